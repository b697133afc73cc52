# -*- coding: utf-8 -*-
# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a load test URL this stack's own endpoint? For preflight.

The load tool sends thousands of requests to whatever URL it is given. It may
only ever target the stack's own inference endpoint: the local runtime's
loopback address and port, a port-forward on loopback, or the stack's ingress
host. Any other host, port or scheme is refused before Locust starts.

Why by hand: a URL is parsed with urllib.parse and its host with ipaddress;
no library knows which endpoints belong to the stack.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

DEFAULT_PORTS = {"http": 80, "https": 443}
# Names that mean 127.0.0.1 on every controller (/etc/hosts); no other name is resolved.
LOCALHOST_NAMES = {"localhost": "127.0.0.1"}


def _canonical_host(host):
    host = (host or "").strip().lower().rstrip(".")
    host = LOCALHOST_NAMES.get(host, host)
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def parse_endpoint(url):
    """(scheme, canonical host, port) of an http(s) URL without credentials, query or a path; ValueError if not."""
    try:
        parts = urllib.parse.urlsplit(str(url).strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("is not an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("carries credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("has a path, query or fragment (give the server's base URL)")
    return parts.scheme, _canonical_host(parts.hostname), port or DEFAULT_PORTS[parts.scheme]


def endpoint_text(endpoint):
    scheme, host, port = endpoint
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def load_target_problem(url, own_endpoints):
    """None when `url` names one of `own_endpoints` (URLs), else the reason, as a phrase."""
    allowed = []
    for own in own_endpoints:
        try:
            allowed.append(parse_endpoint(own))
        except ValueError:
            continue  # an endpoint that is not configured (empty ingress host) allows nothing
    try:
        target = parse_endpoint(url)
    except ValueError as exc:
        return str(exc)
    if target in allowed:
        return None
    listed = ", ".join(endpoint_text(endpoint) for endpoint in allowed) or "none configured"
    return f"is not this stack's own endpoint ({listed})"
