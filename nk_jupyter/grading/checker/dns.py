"""DNS with dig, as kathara-lab-checker's `applications.dns`:
records `{A: {name: [value]}}` asked from every device of local_ns, local_ns
`{ns_ip: [device]}` (first nameserver of /etc/resolv.conf), authoritative
`{zone: [ns_ip]}` (the server answers for the zone with the aa flag), and the older
reachability `{name: [device]}` (the device pings the name).
"""
from __future__ import annotations

import re
import shlex

from .base import CheckResult, Probe, guarded
from .config import Node
from .reachability import reachable

FAMILY = "dns"
DIG = "dig +time=2 +tries=2"


def record(probe: Probe, device: str, name: str, expected: list[str] | str, rtype: str = "A",
           server: str | None = None) -> CheckResult:
    """Asked from device (its resolver, or server), name's rtype answer includes an expected value."""
    want = [expected] if isinstance(expected, str) else list(expected)
    at = f" @{shlex.quote(server)}" if server else ""

    def probe_fn():
        r = probe.run(device, f"{DIG} +short{at} {shlex.quote(rtype)} {shlex.quote(name)}")
        answers = [a.strip() for a in r.stdout.splitlines() if a.strip() and not a.startswith(";")]
        norm = lambda v: v.rstrip(".").lower()
        if r.status == 0 and any(norm(a) in {norm(w) for w in want} for a in answers):
            return True, "OK"
        return False, f"{device} resolves {rtype} {name} to {', '.join(answers) or 'nothing'}, expected {', '.join(want)}"

    return guarded(FAMILY, device, f"{device} resolves {rtype} {name} to {', '.join(want)}", probe_fn)


def local_ns(probe: Probe, device: str, ns_ip: str) -> CheckResult:
    """The first nameserver of device's /etc/resolv.conf is ns_ip."""
    def probe_fn():
        r = probe.run(device, "cat /etc/resolv.conf")
        servers = re.findall(r"^\s*nameserver\s+(\S+)", r.stdout, re.M)
        if servers and servers[0] == ns_ip:
            return True, "OK"
        return False, f"{device}'s name server is {servers[0] if servers else 'not set'}, not {ns_ip}"
    return guarded(FAMILY, device, f"{device} uses name server {ns_ip}", probe_fn)


def authoritative(probe: Probe, device: str, zone: str, server: str) -> CheckResult:
    """Asked from device, server answers authoritatively (aa) for zone's SOA."""
    def probe_fn():
        r = probe.run(device, f"{DIG} +norec @{shlex.quote(server)} SOA {shlex.quote(zone)}")
        flags = re.search(r";; flags: ([a-z ]+);", r.stdout)
        if flags and "aa" in flags.group(1).split() and "status: NOERROR" in r.stdout:
            return True, "OK"
        status = re.search(r"status: (\w+)", r.stdout)
        return False, f"{server} is not authoritative for {zone} (status {status.group(1) if status else 'no answer'})"
    return guarded(FAMILY, device, f"{server} is authoritative for {zone}", probe_fn)


def plan(node: Node) -> list:
    steps = []
    clients: list[str] = []
    ns = node.get("local_ns")
    if ns is not None:
        for ip, devs in ns.items():
            for d in devs.elements():
                clients.append(d.text())
                steps.append(lambda p, d=d.text(), ip=ip: [local_ns(p, d, ip)])

    def client(p: Probe) -> str:
        return clients[0] if clients else next(iter(p.lab.model.machines), "")

    for key, section in node.items():
        if key == "records":
            for rtype, names in section.items():
                for name, values in names.items():
                    want = [v.text() for v in values.elements()] if isinstance(values.value, list) else [values.text()]
                    for d in clients or [None]:
                        steps.append(lambda p, d=d, n=name, w=want, t=rtype: [record(p, d or client(p), n, w, t)])
        elif key == "authoritative":
            for zone, servers in section.items():
                for s in servers.elements():
                    steps.append(lambda p, z=zone, s=s.text(): [authoritative(p, client(p), z, s)])
        elif key == "reachability":
            for name, devs in section.items():
                for d in devs.elements():
                    steps.append(lambda p, d=d.text(), n=name: [reachable(p, d, n)])
        elif key != "local_ns":
            raise section.error(f"unknown DNS check {key!r} (known: records, local_ns, authoritative, reachability)")
    return steps
