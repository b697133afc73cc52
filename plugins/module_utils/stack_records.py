# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs of a stack recorded about it (read-only): ids, ARNs and the names of untaggable resources.

The stages write JSON records into the run directory (``aws/*.json``) and the
stack's state directory. Every EC2 id and ARN found anywhere in them counts as
the stack's. Budgets cannot carry the stack tag here, so their names count
only when a budget record (``budget*.json``, key ``name``) names them.

A record that exists but cannot be read is reported, not skipped: the leftover
check then says "unknown", because what the stack is made of is not known.
"""

from __future__ import annotations

import glob
import json
import os
import re

RECORDED_ID = re.compile(r"^((vpc|subnet|igw|nat|rtb|sg|eipalloc|eni|i|vol|lt|acl)-[0-9a-f]{8,17}|arn:aws[\w-]*:.+)$")
# (file name pattern, key) -> kind whose name the value records.
RECORDED_NAMES = ((re.compile(r"^budget.*\.json$"), "name", "budgets/budget"),)


def expand(paths):
    files = []
    for path in paths or []:
        files.extend(sorted(glob.glob(path)) if glob.has_magic(path) else [path])
    return files


class Records:
    """Ids, ARNs and names recorded for a stack, and the records that could not be read."""

    def __init__(self, ids=None, names=None, unreadable=None):
        self.ids = set(ids or [])
        self.names = {kind: set(values) for kind, values in (names or {}).items()}
        self.unreadable = list(unreadable or [])

    def has(self, *ids):
        return next((rid for rid in ids if rid and rid in self.ids), None)

    def has_name(self, kind, name):
        return name in self.names.get(kind, set())

    def cluster_names(self):
        """Names of EKS clusters whose ARN was recorded."""
        return {rid.split(":cluster/", 1)[1] for rid in self.ids
                if rid.startswith("arn:aws") and ":eks:" in rid and ":cluster/" in rid}

    @classmethod
    def from_files(cls, paths, ids=None):
        found, names, unreadable = set(ids or []), {}, []
        for path in expand(paths):
            if not os.path.exists(path):
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as exc:
                unreadable.append(f"{path}: {exc.__class__.__name__}")
                continue
            _walk(data, found)
            base = os.path.basename(path)
            for pattern, key, kind in RECORDED_NAMES:
                if pattern.match(base) and isinstance(data, dict) and isinstance(data.get(key), str):
                    names.setdefault(kind, set()).add(data[key])
        return cls(found, names, unreadable)


def _walk(value, found):
    if isinstance(value, dict):
        for item in value.values():
            _walk(item, found)
    elif isinstance(value, list):
        for item in value:
            _walk(item, found)
    elif isinstance(value, str) and RECORDED_ID.match(value):
        found.add(value)


def recorded_ids_from_files(paths):
    """Every EC2 id or ARN found anywhere in the given JSON files or glob patterns (unreadable files skipped)."""
    return sorted(Records.from_files(paths).ids)
