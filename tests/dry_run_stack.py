"""One stack of the local profile taken through every dry run, then torn down for real.

The sequence behind the module fixture `dry_run_stack` of tests/integration/test_dry_runs_local.py: the site.yml
previews and the teardown previews share one provisioning. In this order, on its own emulator port and runs
root:
1. cold start: `site.yml --check` with no emulator running and nothing in it. The emulator starts (run
   infrastructure), every stage runs to its end and nothing is created.
2. provisioning: `site.yml --tags` STAGES really runs; nvidia_plugin, triton, observability, loadtest and report
   are not needed for the AWS side and are left out.
3. provisioned and unchanged: `site.yml --check` (every stage) reports changed=0 for every AWS module.
4. provisioned with one changed input: `site.yml --check --diff -e eks_public_access_cidrs=[...]` reports that one
   change and nothing else.
5. two dry runs of the teardown (`playbooks/teardown.yml --check`), each writing a plan of its own.
6. the real teardown of what the dry runs planned.
An independent boto3 look at the emulator (tests/emulator_inventory.py) before and after every run is the judge of
"nothing created", "nothing changed", "nothing deleted" and, after the real teardown, "nothing left". Every
process a run recorded is stopped by its PID.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal

from aws_emulator_process import free_port
from emulator_inventory import inventory

from playbook_runner import run_playbook

STACK = "it-dry"
STAGES = "preflight,bootstrap,vpc,eks,gpu_nodegroup,model"
CIDR = "203.0.113.0/24"


def ok(result):
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def emulator_alive(pid_file) -> bool:
    pid = int(pid_file.read_text())
    cmdline = f"/proc/{pid}/cmdline"
    if not os.path.exists(cmdline):
        return False
    with open(cmdline, "rb") as handle:
        return b"aws_emulator.py" in handle.read()


def run_every_dry_run(tmp):
    """Yield {step: result or emulator inventory} of the whole sequence; stop the stack's processes at the end."""
    runs_root = tmp / "runs"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    extra = ["-e", f"aws_emulator_port={port}", "-e", f"stack_name={STACK}", "-e", f"runs_root={runs_root}",
             "-e", f"docs_dir={tmp / 'docs'}",
             # Bounded and quick: a deletion that waits must not hang the test.
             "-e", "teardown_dependency_retries=2", "-e", "teardown_dependency_delay=1",
             "-e", "teardown_eks_wait_timeout=30", "-e", "teardown_nat_gateway_wait_timeout=30"]
    stack_dir = runs_root / STACK
    found = {}

    def teardown(*args, **kwargs):
        return run_playbook("playbooks/teardown.yml", "-e", "teardown_confirm=true", *args, *extra, **kwargs)

    try:
        found["cold"] = run_playbook("site.yml", "--check", *extra, json_output=True, timeout=900)
        found["cold_dirs"] = sorted(p for p in stack_dir.glob("2*") if p.is_dir())
        found["after_cold"] = inventory(url, STACK)
        found["cold_model_repository"] = (stack_dir / "model_repository").exists()
        ok(run_playbook("site.yml", "--tags", STAGES, *extra, timeout=900))
        found["run_dir"] = run_dir = (stack_dir / "latest").resolve()
        found["before"] = inventory(url, STACK)
        found["unchanged"] = run_playbook("site.yml", "--check", *extra, json_output=True, timeout=900)
        found["after_unchanged"] = inventory(url, STACK)
        found["changed"] = run_playbook("site.yml", "--check", "--diff", *extra,
                                        "-e", json.dumps({"eks_public_access_cidrs": [CIDR]}),
                                        json_output=True, timeout=900)
        found["after_changed"] = inventory(url, STACK)
        found["latest_after_previews"] = (stack_dir / "latest").resolve()
        found["teardown"] = teardown("--check", json_output=True, timeout=300)
        found["after_teardown"] = inventory(url, STACK)
        found["first_plan"] = (run_dir / "teardown-plan.json").read_bytes()
        found["second_teardown"] = teardown("--check", json_output=True, timeout=300)
        found["after_second_teardown"] = inventory(url, STACK)
        found["emulator_alive"] = emulator_alive(stack_dir / "state" / "aws-emulator.pid")
        found["clean_marker_after_previews"] = (stack_dir / "state" / "last-clean-teardown.json").exists()
        found["leftovers_after_previews"] = sorted(runs_root.glob(f"{STACK}/*/leftovers*.json"))
        found["real_teardown"] = teardown("-e", "teardown_stop_local_services=false", timeout=900)
        found["after_real_teardown"] = inventory(url, STACK)
        yield found
    finally:
        for pid_file in (stack_dir / "state").rglob("*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
