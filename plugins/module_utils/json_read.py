# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a JSON file the collection's records, statistics and schemas are kept in: one helper.

``read_json`` raises the caller's one error type with the file and the reason (an
unreadable file or one that is not JSON); ``read_json_or`` answers a default
instead, for records that may be absent or half-written.
"""

from __future__ import annotations

import json


def read_json(path, error, what):
    """The JSON document in ``path`` (UTF-8); raises ``error("cannot read <what> <path>: <reason>")`` otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from exc


def read_json_or(path, default=None):
    """The JSON document in ``path``, or ``default`` when it is absent, unreadable or not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default
