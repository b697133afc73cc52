"""meta/runtime.yml's aws action group lists exactly the collection's AWS modules."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_aws_action_group_is_exactly_the_aws_modules():
    group = set(yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["aws"])
    aws_modules = {
        path.stem for path in (ROOT / "plugins" / "modules").glob("*.py")
        if "AnsibleAWSModule" in path.read_text()
    }
    assert group == aws_modules
