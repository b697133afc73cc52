# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ports for preflight: each a TCP port number, and no two services of the run on the same one.

Why by hand: two local services on one port fail only when the second binds,
minutes into a run; preflight compares the whole set at once.
"""

from __future__ import annotations

from ansible_collections.gpu_e2e.platform.plugins.module_utils.input_bounds import parse_number


def port_problems(ports):
    """One line per port problem of a {variable name: port} mapping (empty when all are valid and distinct)."""
    problems = []
    owners = {}
    for var, value in ports.items():
        number = parse_number(value)
        if number is None or not number.is_integer() or not 1 <= number <= 65535:
            problems.append(f"{var}={value!r} is not a TCP port: set a whole number between 1 and 65535")
            continue
        port = int(number)
        if port in owners:
            problems.append(f"{var}={port} collides with {owners[port]}={port}: give each service its own port")
            continue
        owners[port] = var
    return problems
