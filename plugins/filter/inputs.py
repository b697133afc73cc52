# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight input filters: names per AWS service, bounded numbers, ports, the load target, argument specs.

Why filters: each is a pure function of inventory values, so preflight can check
every input before anything is created; the rules live in module_utils
(aws_names, input_bounds, input_ports, load_target) and are unit-tested there.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpu_e2e.platform.plugins.module_utils import aws_names
from ansible_collections.gpu_e2e.platform.plugins.module_utils import input_bounds
from ansible_collections.gpu_e2e.platform.plugins.module_utils import input_ports
from ansible_collections.gpu_e2e.platform.plugins.module_utils import load_target


def aws_name_problems(checks):
    """One line per name that breaks its service's rule: checks are {var, value, kind[, fix]}."""
    problems = []
    for check in checks:
        try:
            rule = aws_names.name_problem(check["value"], check["kind"])
        except (KeyError, ValueError) as exc:
            raise AnsibleFilterError(f"aws_name_problems: {exc}") from exc
        if rule:
            fix = check.get("fix") or f"set {check['var']} to a valid name"
            problems.append(f"{check['var']}={check['value']!r} is refused: {rule}; {fix}")
    return problems


def scope_problems(checks):
    """One line per name outside the scope of the operator policy: checks are {var, value, equals | prefix}."""
    problems = []
    for check in checks:
        value = str(check["value"])
        if "equals" in check and value != str(check["equals"]):
            problems.append(f"{check['var']}={value!r} is not {str(check['equals'])!r}")
        elif "prefix" in check and not value.startswith(str(check["prefix"])):
            problems.append(f"{check['var']}={value!r} does not start with {str(check['prefix'])!r}")
    return problems


def number_problems(checks):
    """One line per numeric input that is not finite, not whole, or out of bounds (see module_utils/input_bounds)."""
    return input_bounds.number_problems(list(checks))


def bound_check(value, check, var):
    """A copy of `check` for one more value (e.g. each element of a list input), named `var`."""
    return dict(check, var=var, value=value)


def bound_overrides(checks):
    """The checks whose value is above its bound and allowed only by its *_i_know override."""
    return input_bounds.overridden(list(checks))


def port_problems(ports):
    """One line per port that is not a TCP port or is already another service's."""
    return input_ports.port_problems(dict(ports))


def load_target_problem(url, own_endpoints):
    """The reason `url` is not one of the stack's own endpoints, or '' when it is."""
    return load_target.load_target_problem(url, list(own_endpoints)) or ""


def spec_options(argument_specs, entry_point="main", exclude=()):
    """A role's argument spec options for ansible.builtin.validate_argument_spec, without their defaults.

    Defaults are dropped: defaults/main.yml holds the values; the spec documents and types them.
    """
    try:
        options = argument_specs["argument_specs"][entry_point].get("options") or {}
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"spec_options: no entry point {entry_point!r} ({exc})") from exc
    return {name: {key: value for key, value in option.items() if key != "default"}
            for name, option in options.items() if name not in exclude}


def spec_errors(results, loop_var="preflight__role"):
    """The argument spec errors of a validate_argument_spec loop over roles, each naming its role's spec file."""
    return [f"{error} (roles/{result.get(loop_var, '?')}/meta/argument_specs.yml)"
            for result in results for error in result.get("argument_errors") or []]


def one_line(problems, limit=3):
    """Problems joined into one line: the first `limit`, then how many more."""
    problems = [" ".join(str(problem).split()) for problem in problems]
    line = "; ".join(problems[:limit])
    if len(problems) > limit:
        line += f" (and {len(problems) - limit} more)"
    return line


class FilterModule:
    """Preflight input filters."""

    def filters(self):
        return {
            "aws_name_problems": aws_name_problems,
            "scope_problems": scope_problems,
            "number_problems": number_problems,
            "bound_check": bound_check,
            "bound_overrides": bound_overrides,
            "port_problems": port_problems,
            "load_target_problem": load_target_problem,
            "spec_options": spec_options,
            "spec_errors": spec_errors,
            "one_line": one_line,
        }
