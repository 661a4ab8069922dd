"""Kernel parameters read live in the machine, as kathara-lab-checker's
`sysctls: {device: ["net.ipv4.ip_forward=1"]}` and `ipv6_enabled: [device]`
(or `{device: true|false}`).
"""
from __future__ import annotations

import shlex

from .base import CheckResult, Probe, guarded
from .config import Node

FAMILY = "sysctls"


def sysctl(probe: Probe, device: str, key: str, value: str | int) -> CheckResult:
    """sysctl key has value in device (compared as whitespace-separated words)."""
    def probe_fn():
        r = probe.run(device, f"sysctl -n {shlex.quote(key)}")
        if r.status != 0:
            return False, f"{device} has no sysctl {key} ({r.stderr.strip() or 'error'})"
        if r.stdout.split() == str(value).split():
            return True, "OK"
        return False, f"{key} is {r.stdout.strip()!r} on {device}, not {str(value)!r}"
    return guarded(FAMILY, device, f"{device} has {key}={value}", probe_fn)


def ipv6_enabled(probe: Probe, device: str, enabled: bool = True) -> CheckResult:
    res = sysctl(probe, device, "net.ipv6.conf.all.disable_ipv6", 0 if enabled else 1)
    res.description = f"IPv6 is {'enabled' if enabled else 'disabled'} on {device}"
    return res


def plan(node: Node) -> list:
    steps = []
    for device, items in node.items():
        for e in items.elements():
            key, eq, value = e.text().partition("=")
            if not eq or not key.strip():
                raise e.error(f"a sysctl is KEY=VALUE, e.g. net.ipv4.ip_forward=1, not {e.value!r}")
            steps.append(lambda p, d=device, k=key.strip(), v=value.strip(): [sysctl(p, d, k, v)])
    return steps


def plan_ipv6(node: Node) -> list:
    if isinstance(node.value, dict):
        pairs = [(d, bool(n.value)) for d, n in node.items()]
    else:
        pairs = [(n.text(), True) for n in node.elements()]
    return [lambda p, d=d, on=on: [ipv6_enabled(p, d, on)] for d, on in pairs]
