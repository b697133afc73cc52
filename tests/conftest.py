"""How `make test` spreads the tests over pytest-xdist workers (`-n 2 --dist loadgroup`).

Every test of a module runs in one worker, so a module-scoped fixture (a provisioned stack) is built once. The
modules that share a session fixture form one group, so that fixture too is built once: they are named here.
"""
from __future__ import annotations

import pytest

# Modules sharing an expensive session fixture: {module file name: group}.
SHARED_FIXTURE_GROUPS = {
    # dry_run_stack (tests/dry_run_stack.py): one stack through every dry run and a real teardown.
    "test_check_preview_local.py": "dry-run-stack",
    "test_teardown_preview_local.py": "dry-run-stack",
}


def pytest_collection_modifyitems(items):
    for item in items:
        group = SHARED_FIXTURE_GROUPS.get(item.path.name, str(item.path))
        item.add_marker(pytest.mark.xdist_group(group))
