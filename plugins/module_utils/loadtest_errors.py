# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error type of the load test module_utils; each module catches it once in main()."""

from __future__ import annotations


class LoadtestError(Exception):
    """Results cannot be read or written (missing files, unreadable CSV, bad options)."""
