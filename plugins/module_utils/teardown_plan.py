# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The teardown's dry run: what it would delete, in the order it deletes, and why each is the stack's.

The plan is built from the records of one ``stack_leftovers_info`` scan (the inventory the deletion
tasks act on) and ``stack_inventory.DELETE_SEQUENCE`` (the deletion tasks' own targets, in their
order): a record is planned exactly when a deletion task of a step that runs would act on it. Records
no task acts on (an instance goes with its node group; an interface still in use) are listed apart
with the reason, so nothing of the stack is hidden.

The plan is a run-directory record: ``teardown-plan.json``, or ``teardown-plan-<UTC timestamp>.json``
when the run directory already holds one, so an earlier plan is never replaced.
"""
from __future__ import annotations

import datetime
import json
import os

from ansible_collections.gpu_e2e.platform.plugins.module_utils.diff import text_file
from ansible_collections.gpu_e2e.platform.plugins.module_utils import stack_inventory as inv
from ansible_collections.gpu_e2e.platform.plugins.module_utils.atomic_write import write_atomic

PLAN_FILE = "teardown-plan.json"


class TeardownPlanError(Exception):
    """The one error type of the plan; the module catches it once."""


def _entry(record, extra):
    evidence = record.get("evidence") or {}
    return {
        "kind": record.get("kind", ""),
        "id": record.get("id", ""),
        "name": record.get("name", ""),
        "region": record.get("region", ""),
        "state": record.get("state", ""),
        "evidence": {"by": evidence.get("by", ""), "detail": evidence.get("detail", "")},
        **extra,
    }


def _why_not(record, steps):
    """Why no deletion task of ``steps`` acts on a record of the scan."""
    kind = record.get("kind", "")
    entries = [e for e in inv.DELETE_SEQUENCE if e["kind"] == kind]
    if not entries:
        known = inv.TYPES.get(kind)
        return known["delete"] if known else "no teardown step deletes this type; the leftover check reports it"
    if not any(e["step"] in steps for e in entries):
        return f"step {entries[0]['step']} does not run on this profile; the leftover check reports it"
    return (f"not in a state teardown deletes ({record.get('state') or 'no state'}); "
            "it goes with what holds it, or the leftover check reports it")


def build_plan(records, steps, kept=(), untagged=(), stack_name="", aws_region="", platform_target="",
               planned_at=None):
    """The plan of a teardown of ``steps`` (step names, in order) over the scan's ``records``."""
    unknown = sorted(set(steps) - {e["step"] for e in inv.DELETE_SEQUENCE})
    if unknown:
        raise TeardownPlanError(f"unknown teardown steps {unknown}; known: "
                                f"{sorted({e['step'] for e in inv.DELETE_SEQUENCE})}")
    planned, seen = [], set()
    for step in steps:
        for entry in (e for e in inv.DELETE_SEQUENCE if e["step"] == step):
            for record in inv.targets(records, entry["target"]):
                key = (record.get("kind"), record.get("id"), record.get("region"))
                if key in seen:
                    continue
                seen.add(key)
                planned.append(_entry(record, {"order": len(planned) + 1, "step": step, "target": entry["target"],
                                               "module": entry["module"]}))
    not_deleted = [_entry(r, {"reason": _why_not(r, steps)}) for r in records
                   if (r.get("kind"), r.get("id"), r.get("region")) not in seen]
    when = planned_at or datetime.datetime.now(datetime.timezone.utc)
    return {
        "planned_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "check_mode": True,
        "stack_name": stack_name,
        "aws_region": aws_region,
        "platform_target": platform_target,
        "steps": list(steps),
        "count": len(planned),
        "resources": planned,
        "not_deleted": not_deleted,
        "kept": [_entry(r, {"reason": "kept on purpose (teardown_keep_budget)"}) for r in kept],
        "untagged_in_stack_vpcs": list(untagged),
    }


def plan_path(run_dir, planned_at):
    """``teardown-plan.json`` in ``run_dir``, or a timestamped name when a plan is already there."""
    path = os.path.join(run_dir, PLAN_FILE)
    if not os.path.lexists(path):
        return path
    stamp = planned_at.strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(run_dir, f"teardown-plan-{stamp}.json")
    counter = 1
    while os.path.lexists(path):
        counter += 1
        path = os.path.join(run_dir, f"teardown-plan-{stamp}-{counter}.json")
    return path


def plan_text(plan):
    """The text of a plan file."""
    return json.dumps(plan, indent=2, sort_keys=False) + "\n"


def write_plan(run_dir, plan, planned_at, check_mode=False):
    """Write ``plan`` to a new file of ``run_dir`` (atomically); return its path. Check mode writes nothing."""
    path = plan_path(run_dir, planned_at)
    if check_mode:
        return path
    try:
        write_atomic(path, plan_text(plan))
    except OSError as exc:
        raise TeardownPlanError(f"cannot write the teardown plan {path}: {exc}") from exc
    return path


def record_plan(params, planned_at, check_mode=False):
    """Build the plan of ``params`` (the module's options), write it to a new file; the module's result.

    A plan always goes to a new file (an earlier one is never replaced), so the task always changes
    something: the file it writes, or in check mode would write; --diff shows that file's content.
    """
    plan = build_plan(params["records"], params["steps"], kept=params.get("kept") or [],
                      untagged=params.get("untagged") or [], stack_name=params["stack_name"],
                      aws_region=params["aws_region"], platform_target=params["platform_target"],
                      planned_at=planned_at)
    path = write_plan(params["run_dir"], plan, planned_at, check_mode=check_mode)
    others = ([other_line(e, "NOT DELETED") for e in plan["not_deleted"]]
              + [other_line(e, "KEPT") for e in plan["kept"]])
    return {"changed": True, "path": path, "plan": plan, "lines": [plan_line(e) for e in plan["resources"]],
            "other_lines": others, "diff": text_file(path, None, plan_text(plan))}


def plan_line(entry):
    """``3. eks/cluster it-pv (us-east-1) - stack-tag: tagged stack=it-pv [eks: community.aws.eks_cluster]``."""
    name = entry.get("name") or ""
    named = f" ({name})" if name and name != entry.get("id") else ""
    evidence = entry.get("evidence") or {}
    return (f"{entry.get('order')}. {entry.get('kind')} {entry.get('id')}{named} ({entry.get('region')}) - "
            f"{evidence.get('by')}: {evidence.get('detail')} [{entry.get('step')}: {entry.get('module')}]")


def other_line(entry, label):
    """``NOT DELETED ec2/instance i-0abc (us-east-1) - stack-cluster: ...: goes with its node group ...``."""
    evidence = entry.get("evidence") or {}
    return (f"{label} {entry.get('kind')} {entry.get('id')} ({entry.get('region')}) - {evidence.get('by')}: "
            f"{evidence.get('detail')}: {entry.get('reason')}")
