"""One stage order: playbooks/site.yml (gpu_e2e.platform.site) imports the stages, the root site.yml imports it.

A stage playbook left out of playbooks/site.yml, imported twice, a task or play sneaking into either file,
or a second copy of the order in the root site.yml fails here.
"""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
NOT_STAGES = {"site.yml", "teardown.yml"}


def imports(path: Path) -> list[str]:
    plays = yaml.safe_load(path.read_text())
    for play in plays:
        assert set(play) <= {"name", "ansible.builtin.import_playbook", "vars"}, f"{path.name}: {play}"
    return [play["ansible.builtin.import_playbook"] for play in plays]


def test_the_root_site_only_imports_the_collection_playbook():
    assert imports(ROOT / "site.yml") == ["playbooks/site.yml"]


def test_the_collection_site_imports_every_stage_once_preflight_first_report_last():
    order = imports(ROOT / "playbooks" / "site.yml")
    stages = {p.name for p in (ROOT / "playbooks").glob("*.yml")} - NOT_STAGES
    assert sorted(order) == sorted(stages)
    assert order[0] == "preflight.yml" and order[-1] == "report.yml"


def test_the_stage_plays_are_numbered_once_in_site_order():
    """Preflight is not a stage; the stages run 0 (bootstrap) to 7 (evidence), a letter where one stage has two
    plays, each number used by one stage only and never out of order."""
    import re

    order = imports(ROOT / "playbooks" / "site.yml")
    names = [yaml.safe_load((ROOT / "playbooks" / name).read_text())[0]["name"] for name in order]
    assert names[0].startswith("Preflight - ")
    numbers = [re.match(r"Stage ([0-9]+)([a-z]?) - ", name) for name in names[1:]]
    assert all(numbers), names
    labels = [(int(m.group(1)), m.group(2)) for m in numbers]
    assert labels == sorted(labels) and len(set(labels)) == len(labels), labels
    assert labels[0] == (0, "") and labels[-1][0] == 7
    assert sorted({number for number, _letter in labels}) == list(range(8))
