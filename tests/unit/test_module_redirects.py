"""The renamed modules: meta/runtime.yml redirects each old name to a module that exists, and an old
name still runs (with a deprecation warning) so existing playbooks keep working.

Removing a redirect from meta/runtime.yml fails the playbook test (ansible-core then cannot resolve
the old name: "couldn't resolve module/action"); checked by deleting the run_event entry.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RENAMED = {
    "evidence_report": "evidence",
    "grafana_dashboards": "dashboards",
    "run_event": "run_events",
    "triton_infer": "triton_smoke",
}


def routing():
    return yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["plugin_routing"]["modules"]


def test_every_old_name_redirects_to_the_module_of_its_new_name():
    modules = routing()
    for old, new in RENAMED.items():
        entry = modules[old]
        assert entry["redirect"] == f"gpu_e2e.platform.{new}"
        assert entry["deprecation"]["removal_version"] == "2.0.0"
        assert (ROOT / "plugins" / "modules" / f"{new}.py").is_file()
        assert not (ROOT / "plugins" / "modules" / f"{old}.py").exists()


def test_each_module_shares_its_name_with_its_module_utils():
    for new in RENAMED.values():
        assert (ROOT / "plugins" / "module_utils" / f"{new}.py").is_file()
        text = (ROOT / "plugins" / "modules" / f"{new}.py").read_text()
        assert f"\nmodule: {new}\n" in text
        assert f"plugins.module_utils.{new} import" in text


def test_an_old_name_still_runs_through_its_redirect(tmp_path):
    events = tmp_path / "events.json"
    playbook = tmp_path / "old_name.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Call a module by its old name.",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [{
            "name": "Record an event through the old module name.",
            "gpu_e2e.platform.run_event": {
                "events_file": str(events), "text": "redirect", "tags": ["t"], "time": 1767225600000,
            },
        }],
    }]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_DEPRECATION_WARNINGS="true")
    result = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(events.read_text())["events"][0]["text"] == "redirect"
    assert "gpu_e2e.platform.run_events" in result.stdout + result.stderr
