# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible's ``diff`` results, built one way for every module of the collection.

A diff is a dict with ``before`` and ``after`` (and, for a file, ``before_header``/``after_header``
naming it), or a list of them when a task changes several files. Resource modules show the
attributes they manage (``fields``); file-writing modules show the text they would write
(``text_file``), or, for bytes nobody reads as text, a digest and size (``binary_file``,
``digest_file``). ``exit_result`` returns the diff only when the task runs with ``--diff``, so a
module computes it the same way in every mode and never leaks it into a plain result.
"""
from __future__ import annotations

import hashlib

ABSENT = "(absent)"


def fields(before, after, keys=None):
    """Diff of two attribute dicts: the keys whose values differ (``keys`` limits the comparison).

    A missing resource is ``None`` (or an empty dict); then the other side is shown whole, so a
    creation shows everything it would create and a deletion everything it would delete.
    """
    before = dict(before or {})
    after = dict(after or {})
    if not before or not after:
        return {"before": before, "after": after}
    names = keys if keys is not None else sorted(set(before) | set(after))
    changed = [k for k in names if before.get(k) != after.get(k)]
    return {"before": {k: before[k] for k in changed if k in before},
            "after": {k: after[k] for k in changed if k in after}}


def text_file(path, before, after):
    """Diff of a text file: ``before`` is its current content, or ``None`` when it does not exist yet."""
    return {"before_header": path if before is not None else f"{path} {ABSENT}", "after_header": path,
            "before": before if before is not None else "", "after": after if after is not None else ""}


def digest_file(path, before, after):
    """Diff of a binary file given as summaries (``{"sha256": ..., "bytes": ...}``, ``None`` when absent)."""
    def line(summary):
        if summary is None:
            return ABSENT + "\n"
        return f"sha256: {summary['sha256']}\nbytes: {summary['bytes']}\n"

    return {"before_header": path, "after_header": path, "before": line(before), "after": line(after)}


def summary(data):
    """The digest summary of ``data`` (bytes), or ``None`` for a missing file."""
    if data is None:
        return None
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def binary_file(path, before, after):
    """Diff of a binary file: ``before``/``after`` are its bytes (``None`` when absent), shown as digests."""
    return digest_file(path, summary(before), summary(after))


def read_text(path):
    """The text of ``path`` (UTF-8), or ``None`` when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_bytes(path):
    """The bytes of ``path``, or ``None`` when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def combined(diffs):
    """One ``diff`` result from several: the single dict, or the list; ``None`` when there is none."""
    diffs = [d for d in diffs if d]
    if not diffs:
        return None
    return diffs[0] if len(diffs) == 1 else diffs


def exit_result(module, changed, diff=None, **result):
    """``module.exit_json`` with ``changed``, and ``diff`` only when the task runs with ``--diff``.

    Without ``--diff`` no diff is returned, whatever the module computed.
    """
    result.pop("diff", None)
    if module._diff and diff is not None:
        result["diff"] = diff
    module.exit_json(changed=changed, **result)
