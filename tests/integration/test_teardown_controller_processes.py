"""The teardown stops what the run started on the controller on both profiles: on aws that is the port-forwards
to Grafana and Prometheus (by PID). A stop reachable only on the local profile would leave them running."""
from __future__ import annotations

import json

from playbook_runner import ROOT, run_playbook

PLAY = """\
- name: The teardown's stop of the controller's processes, alone
  hosts: controller
  gather_facts: false
  tasks:
    - name: Stop the processes the run started on the controller.
      ansible.builtin.include_role:
        name: gpu_e2e.platform.teardown
        tasks_from: controller_processes.yml
"""


def test_on_aws_the_port_forwards_are_stopped_by_pid(tmp_path):
    runs_root, stack = tmp_path / "runs", "it-pf"
    state = runs_root / stack / "state"
    state.mkdir(parents=True)
    run_dir = runs_root / stack / "run"
    run_dir.mkdir()
    playbook = tmp_path / "stop.yml"
    playbook.write_text(PLAY)
    # No port-forward is running (no pid files): the stop tasks must still run, not be skipped, on aws.
    extra = {"runs_root": str(runs_root), "stack_name": stack, "run_dir": str(run_dir)}
    result = run_playbook("-i", str(ROOT / "inventories" / "aws"), str(playbook), "-e", json.dumps(extra),
                          json_output=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    tasks = [task for play in json.loads(result.stdout)["plays"] for task in play["tasks"]]
    ran = {task["task"]["name"].split(" : ", 1)[-1]: task["hosts"]["localhost"] for task in tasks
           if "localhost" in task["hosts"]}
    stop = ran["Stop the port-forwards to Grafana and Prometheus by their PIDs."]
    assert not stop.get("skipped"), stop
    assert {item["item"]["name"] for item in stop["results"]} == {"grafana", "prometheus"}
    assert ran["Stop the embedded AWS emulator by its PID."].get("skipped")


def test_the_teardown_playbook_stops_them_on_every_profile():
    """The playbook's include of the stop is not limited to one profile (it was local-only once)."""
    import yaml

    plays = yaml.safe_load((ROOT / "playbooks" / "teardown.yml").read_text())
    includes = [task for play in plays for task in play.get("tasks", [])
                if (task.get("ansible.builtin.include_role") or {}).get("tasks_from") == "controller_processes.yml"]
    assert len(includes) == 1
    assert "platform_target" not in str(includes[0].get("when", ""))
