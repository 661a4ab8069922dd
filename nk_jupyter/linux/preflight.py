"""Checks that the host can run rootless labs, each failure with the exact fix."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import HostSetupError
from .idmap import current_idmap


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def check() -> list[str]:
    """Raise HostSetupError if labs cannot run; return warnings for degraded set-ups."""
    warnings = []
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        raise HostSetupError("user namespaces are disabled (user.max_user_namespaces=0); enable them with: "
                             "sudo sysctl -w user.max_user_namespaces=28633")
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        raise HostSetupError("unprivileged user namespaces are disabled; enable them with: "
                             "sudo sysctl -w kernel.unprivileged_userns_clone=1")
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        raise HostSetupError("AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+); allow them with: "
                             "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 "
                             "(or install an AppArmor profile for python3, see the README)")
    idmap = current_idmap()
    if not (shutil.which("newuidmap") and shutil.which("newgidmap")):
        warnings.append("newuidmap/newgidmap not found: using a single-ID map, daemons that drop to their own "
                        "user (frr, bind) will fail. Fix: sudo apt install uidmap")
    elif not idmap.uid_ranges or not idmap.gid_ranges:
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
        warnings.append(f"no /etc/subuid or /etc/subgid range for {user}: using a single-ID map, daemons that "
                        f"drop to their own user will fail. Fix: sudo usermod --add-subuids 100000-165535 "
                        f"--add-subgids 100000-165535 {user}")
    if not Path("/proc/self/ns/user").exists():
        raise HostSetupError("this kernel has no user namespaces (CONFIG_USER_NS); labs cannot run here")
    return warnings
