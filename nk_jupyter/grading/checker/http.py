"""HTTP with curl, as kathara-lab-checker's `applications.http`:
`{device: [{url, method, status_code, body_contains, regex_body}]}`.
"""
from __future__ import annotations

import re
import shlex

from .base import CheckResult, Probe, guarded
from .config import Node

FAMILY = "http"
MARK = "__nk_http_status__"  # not starting with @: curl -w @FILE reads a file


def http(probe: Probe, device: str, url: str, status: int = 200, method: str = "GET",
         body_contains: str | None = None, regex_body: str | None = None) -> CheckResult:
    """device fetches url: the status is status and the body contains / matches what is given."""
    def probe_fn():
        r = probe.run(device, f"curl -s --max-time 8 -X {shlex.quote(method.upper())} "
                              f"-w '{MARK}%{{http_code}}' {shlex.quote(url)}", timeout=15)
        body, _, code = r.stdout.rpartition(MARK)
        if not code.strip().isdigit() or code.strip() == "000":
            return False, f"{device} got no HTTP answer from {url} (curl status {r.status})"
        problems = []
        if int(code) != int(status):
            problems.append(f"status {code}, expected {status}")
        if body_contains is not None and body_contains not in body:
            problems.append(f"the body does not contain {body_contains!r}")
        if regex_body is not None and not re.search(regex_body, body):
            problems.append(f"the body does not match /{regex_body}/")
        return (not problems), ("OK" if not problems else "; ".join(problems))

    extra = (f", body contains {body_contains!r}" if body_contains else "") + (f", body ~ /{regex_body}/" if regex_body else "")
    return guarded(FAMILY, device, f"{device} {method.upper()} {url} -> {status}{extra}", probe_fn)


def plan(node: Node) -> list:
    steps = []
    for device, items in node.items():
        for e in items.elements():
            url = e.get("url")
            if url is None:
                raise e.error("an HTTP check needs url")
            get = lambda k: e.get(k).text() if e.get(k) is not None else None
            code = int(e.get("status_code").number()) if e.get("status_code") is not None else 200
            steps.append(lambda p, d=device, u=url.text(), c=code, m=(get("method") or "GET"),
                         b=get("body_contains"), rx=get("regex_body"): [http(p, d, u, c, m, b, rx)])
    return steps
