"""The built-in test, `MACHINE.default`: interfaces, routes, listening ports, processes.

Netkit's four sections, made stable across runs: read as JSON (ip -j) or parsed, then
printed one fact a line and sorted, without interface indexes, PIDs, counters, timers,
address lifetimes or queue sizes. Processes drop nk's own (the node init, the commands
nk runs in the machine, this test's shell) and `sleep` (as Netkit 2.8 did).
"""
from __future__ import annotations

import json
import re

SECTIONS = ("NETWORK INTERFACES", "ROUTING TABLE", "LISTENING PORTS", "PROCESSES")
MARK = "@@nk-ltest@@"

COMMAND = (f"echo {MARK}addr; ip -j addr show 2>/dev/null; "
           f"echo {MARK}route; ip -j route show 2>/dev/null; "
           f"echo {MARK}route6; ip -j -6 route show 2>/dev/null; "
           f"echo {MARK}ports; ss -H -tuwlnp 2>/dev/null; "
           f"echo {MARK}ps $$; ps -e -o pid=,ppid=,uid=,args= 2>/dev/null")


def render(raw: str) -> str:
    """The MACHINE.default text from the output of COMMAND."""
    parts: dict[str, list[str]] = {}
    shell_pid = ""
    current: list[str] = []
    for line in raw.splitlines():
        if line.startswith(MARK):
            key, _, arg = line[len(MARK):].partition(" ")
            current = parts.setdefault(key, [])
            if key == "ps":
                shell_pid = arg.strip()
        else:
            current.append(line)
    texts = {k: "\n".join(v) for k, v in parts.items()}
    sections = {
        "NETWORK INTERFACES": interfaces(_json(texts.get("addr", ""))),
        "ROUTING TABLE": routes(_json(texts.get("route", ""))) + routes(_json(texts.get("route6", ""))),
        "LISTENING PORTS": ports(texts.get("ports", "")),
        "PROCESSES": processes(texts.get("ps", ""), shell_pid),
    }
    out = []
    for title in SECTIONS:
        out.append(f"[{title}]")
        out.extend(sorted(set(sections[title])) if title != "PROCESSES" else sorted(sections[title]))
        out.append("")
    return "\n".join(out)


def _json(text: str) -> list:
    text = text.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return data if isinstance(data, list) else []


def interfaces(data: list) -> list[str]:
    lines = []
    for link in data:
        name = link.get("ifname", "?")
        flag = "UP" if "UP" in link.get("flags", []) else "DOWN"
        lines.append(f"{name} {flag} mtu {link.get('mtu', '?')} link/{link.get('link_type', '?')} "
                     f"{link.get('address', '')}".rstrip())
        for addr in link.get("addr_info", []):
            lines.append(f"{name} {addr.get('family', '?')} {addr.get('local', '?')}/{addr.get('prefixlen', '?')}"
                         f" scope {addr.get('scope', '?')}")
    return lines


def routes(data: list) -> list[str]:
    lines = []
    for r in data:
        words = [r.get("type", "") if r.get("type") not in (None, "unicast") else "", r.get("dst", "?")]
        if "gateway" in r:
            words.append(f"via {r['gateway']}")
        if "dev" in r:
            words.append(f"dev {r['dev']}")
        for key in ("protocol", "scope", "prefsrc", "metric"):
            if key in r:
                words.append(f"{'src' if key == 'prefsrc' else key} {r[key]}")
        for hop in r.get("nexthops", []):
            via = hop.get("gateway") or (hop.get("via") or {}).get("host", "")
            words.append(f"nexthop via {via} dev {hop.get('dev', '?')} weight {hop.get('weight', 1)}")
        lines.append(" ".join(w for w in words if w))
    return lines


_USERS = re.compile(r'\("([^"]+)",pid=\d+,fd=\d+\)')


def ports(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 5:
            continue
        names = sorted(set(_USERS.findall(line)))
        lines.append(f"{cols[0]} {cols[4]} {','.join(names)}".rstrip())
    return lines


def processes(text: str, shell_pid: str) -> list[str]:
    rows = []
    for line in text.splitlines():
        cols = line.split(None, 3)
        if len(cols) < 4:
            continue
        pid, ppid, uid, args = cols
        if pid == "1" or ppid == "0" or shell_pid in (pid, ppid):
            continue  # nk's node init, commands nk runs in the machine, this test itself
        if args.split()[0].rsplit("/", 1)[-1] == "sleep":
            continue
        rows.append(f"{uid} {args}")
    return rows
