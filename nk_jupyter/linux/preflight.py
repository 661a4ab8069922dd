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


POD_SETTINGS = "deploy/kubernetes/values.yaml"


def pod_problems(env: dict, uid_map: str, mountinfo: str, unshare_error: str | None) -> list[str]:
    """What a Kubernetes pod lacks for nk (empty outside a pod, or in a pod that has it all)."""
    if "KUBERNETES_SERVICE_HOST" not in env:
        return []
    out = []
    if uid_map.split()[:3] == ["0", "0", "4294967295"]:
        out.append("hostUsers: false (the pod shares the node's user IDs: no user-namespace pod)")
    masked = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[4].startswith("/proc/") and fields[4] not in ("/proc/sys/fs/binfmt_misc",):
            masked.append(fields[4])
    if masked:
        out.append(f"securityContext.procMount: Unmasked (/proc is masked: {', '.join(sorted(masked)[:4])} ...; "
                   "nk mounts a /proc in every machine, which a masked /proc forbids)")
    if unshare_error:
        out.append(f"securityContext.seccompProfile: Localhost profiles/nk-jupyter.json (user namespaces "
                   f"are refused: {unshare_error}; the runtime's default profile forbids them)")
    return out


def _pod_check() -> None:
    if "KUBERNETES_SERVICE_HOST" not in os.environ:
        return
    import subprocess
    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True, text=True,
                              timeout=10)
        unshare_error = done.stderr.strip() or None if done.returncode else None
    except (OSError, subprocess.SubprocessError) as e:
        unshare_error = str(e)
    problems = pod_problems(dict(os.environ), _read("/proc/self/uid_map") or "", _read("/proc/self/mountinfo") or "",
                            unshare_error)
    if problems:
        raise HostSetupError("this Kubernetes pod cannot run labs; the pod needs: " + "; ".join(problems)
                             + f" (all are set in {POD_SETTINGS})")


def check() -> list[str]:
    """Raise HostSetupError if labs cannot run; return warnings for degraded set-ups."""
    warnings = []
    _pod_check()
    from .. import helpers
    for program in helpers.PROGRAMS:
        helpers.path(program)  # (raises, naming the fix)
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
