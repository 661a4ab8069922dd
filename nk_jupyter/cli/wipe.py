"""`nk wipe`: find and remove everything of this user's labs, orphans included."""
from __future__ import annotations

import sys

from .. import api


def wipe(args) -> int:
    report = api.wipe()
    print(f"nk wipe: stopped {report.supervisors} supervisor process(es), removed {report.removed} item(s) from "
          f"{', '.join(map(str, report.roots))}", file=sys.stderr)
    return 0


COMMANDS = {"wipe": (lambda p: None, wipe, "stop and remove everything of this user's labs, orphans included")}
