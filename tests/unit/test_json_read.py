"""The one JSON-reading helper (plugins/module_utils/json_read.py) and the modules that read through it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ansible_collections.gpu_e2e.platform.plugins.module_utils.json_read import read_json, read_json_or

ROOT = Path(__file__).resolve().parents[2]
# The module_utils whose JSON files are read through the helper (their errors are their own one error type).
READERS = ["cost_timeline.py", "k8s_validate.py", "loadtest_kpis.py", "loadtest_summary.py"]


class Boom(Exception):
    pass


def test_read_json_names_the_file_and_the_reason(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text('{"a": [1, 2]}')
    bad.write_text("{not json")
    assert read_json(str(good), Boom, "the record") == {"a": [1, 2]}
    with pytest.raises(Boom, match=r"^cannot read the record .*bad\.json: "):
        read_json(str(bad), Boom, "the record")
    with pytest.raises(Boom, match=r"^cannot read the record .*missing\.json: "):
        read_json(str(tmp_path / "missing.json"), Boom, "the record")


def test_read_json_or_answers_the_default(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("")
    assert read_json_or(str(bad)) is None
    assert read_json_or(str(tmp_path / "missing.json"), {}) == {}
    bad.write_text("[1]")
    assert read_json_or(str(bad), {}) == [1]


@pytest.mark.parametrize("name", READERS)
def test_no_module_keeps_a_private_json_reader(name):
    """No json.load of its own: the file is read through json_read (a private copy was once in several)."""
    tree = ast.parse((ROOT / "plugins" / "module_utils" / name).read_text())
    loads = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and isinstance(node.value, ast.Name) and node.value.id == "json" and node.attr == "load"]
    assert loads == [], f"{name} calls json.load itself at lines {loads}"
