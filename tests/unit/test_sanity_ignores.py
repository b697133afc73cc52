"""ansible-test sanity runs with one kind of ignore only: yamllint skips Helm chart templates, which are Go
templates (Helm's layout names them templates/*.yaml), one line per file. Any other ignore, a stale line, or
a chart template left out fails here."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def entries():
    lines = []
    for path in sorted((ROOT / "tests" / "sanity").glob("ignore-*.txt")):
        lines += [(path.name, line.split()) for line in path.read_text().splitlines()
                  if line.strip() and not line.startswith("#")]
    return lines


def chart_templates():
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "roles").glob("*/files/**/templates/*.yaml"))


def test_every_ignore_is_a_yamllint_skip_of_an_existing_chart_template():
    wrong = [(name, fields) for name, fields in entries()
             if len(fields) != 2 or fields[1] != "yamllint!skip" or fields[0] not in chart_templates()]
    assert wrong == []


def test_every_chart_template_is_skipped_once():
    assert sorted(fields[0] for _name, fields in entries()) == chart_templates()
    assert chart_templates(), "the charts' templates moved: update this test"
