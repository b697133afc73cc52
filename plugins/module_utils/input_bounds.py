# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Numeric inputs for preflight: finite, of the right kind, inside bounds, with an explicit override.

Why by hand: Ansible's `int`/`float` filters turn 'inf' into inf and garbage into
0 without a word; preflight needs the rule a value breaks, in one line that names
the variable, the value, the rule and what to set instead.

A check is a dict:
  var: the variable's name;  value: its value;
  min / max: bounds (inclusive unless min_exclusive / max_exclusive);
  integer: whole numbers only;
  override: the name of the `*_i_know` variable that allows values above max;
  overridden: that variable's value;  hard_max: the most allowed even with the override;
  fix: what to do instead (optional; a sentence built from the bounds otherwise).
"""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_number(value):
    """The float of a decimal number (int, float or numeric string); None for anything else (bool, inf, nan...)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        number = float(value.strip())
    else:
        return None
    return number if math.isfinite(number) else None


def _fmt(number):
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _range(check):
    low, high = check.get("min"), check.get("max")
    parts = []
    if low is not None:
        parts.append(f"{'>' if check.get('min_exclusive') else '>='} {_fmt(low)}")
    if high is not None:
        parts.append(f"{'<' if check.get('max_exclusive') else '<='} {_fmt(high)}")
    kind = "a whole number" if check.get("integer") else "a finite number"
    return kind + (" " + " and ".join(parts) if parts else "")


def _truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y")


def number_problem(check):
    """One line for the rule `check['value']` breaks, or None when it keeps every rule."""
    var, value = check["var"], check.get("value")
    fix = check.get("fix") or f"set {var} to {_range(check)}"
    number = parse_number(value)
    if number is None:
        return f"{var}={value!r} is not {'a whole number' if check.get('integer') else 'a finite number'}: {fix}"
    if check.get("integer") and not number.is_integer():
        return f"{var}={value!r} is not a whole number: {fix}"
    low = check.get("min")
    if low is not None and (number < low or (check.get("min_exclusive") and number == low)):
        return f"{var}={value!r} is {'at or ' if check.get('min_exclusive') else ''}below {_fmt(low)}: {fix}"
    high = check.get("max")
    if high is not None and (number > high or (check.get("max_exclusive") and number == high)):
        override, hard_max = check.get("override"), check.get("hard_max")
        if override and _truthy(check.get("overridden")):
            if hard_max is None or number <= hard_max:
                return None
            return f"{var}={value!r} is above {_fmt(hard_max)}, the most allowed even with {override}=true: {fix}"
        if override:
            return (f"{var}={value!r} is above {_fmt(high)}: {fix}, or set {override}=true to accept the cost"
                    + (f" (at most {_fmt(hard_max)})" if hard_max is not None else ""))
        return f"{var}={value!r} is {'at or ' if check.get('max_exclusive') else ''}above {_fmt(high)}: {fix}"
    return None


def number_problems(checks):
    """The problems of a list of checks, in order (empty when every value is valid)."""
    return [problem for problem in (number_problem(check) for check in checks) if problem]


def overridden(checks):
    """The checks whose value is above max and allowed only by their override (for the cost estimate)."""
    found = []
    for check in checks:
        number = parse_number(check.get("value"))
        if (number is not None and check.get("override") and _truthy(check.get("overridden"))
                and check.get("max") is not None and number > check["max"]):
            found.append({"var": check["var"], "value": number, "override": check["override"],
                          "text": f"{check['var']}={_fmt(number)} ({check['override']}=true)"})
    return found
