"""The deployment files: Kubernetes values and seccomp profile (no cluster here: validated,
not run), the JupyterHub configuration, and nk's pod preflight."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from nk_jupyter.linux.preflight import pod_problems

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"


def _walk(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def test_kubernetes_values_ask_for_a_user_namespace_pod_and_nothing_privileged():
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    single = values["singleuser"]
    assert single["extraPodConfig"]["hostUsers"] is False
    ctx = single["containerSecurityContext"]
    assert ctx["procMount"] == "Unmasked"
    assert ctx["seccompProfile"] == {"type": "Localhost", "localhostProfile": "profiles/nk-jupyter.json"}
    assert ctx["capabilities"]["drop"] == ["ALL"]
    assert not any(k == "privileged" and v is True for k, v in _walk(values))
    assert single["image"]["name"] and single["cmd"] == "jupyterhub-singleuser"


def test_seccomp_profile_allows_what_labs_are_made_of():
    profile = json.loads((K8S / "seccomp" / "nk-jupyter.json").read_text())
    denied = {name for rule in profile["syscalls"] if rule["action"] != "SCMP_ACT_ALLOW" for name in rule["names"]}
    assert profile["defaultAction"] == "SCMP_ACT_ALLOW"
    for needed in ("unshare", "setns", "mount", "umount2", "pivot_root", "open_tree", "move_mount", "mount_setattr",
                   "clone", "clone3"):
        assert needed not in denied
    assert {"kexec_load", "init_module", "bpf", "add_key", "userfaultfd"} <= denied


def test_dockerfile_and_hub_config():
    docker = (K8S / "Dockerfile").read_text()
    assert "scripts/install.sh" in docker and "/etc/subuid" in docker and "USER 1000" in docker
    for name in ("jupyterhub_config.py", "nk_hub.py"):  # they compile (nothing is written)
        path = ROOT / "deploy" / "jupyterhub" / name
        compile(path.read_text(), str(path), "exec")


MASKED = """\
626 625 0:52 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
640 626 0:52 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw
641 626 0:52 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
644 626 0:58 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
"""


def test_pod_preflight_names_each_missing_setting():
    assert pod_problems({}, "0 0 4294967295", MASKED, "unshare: Operation not permitted") == []  # not a pod
    pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}
    said = pod_problems(pod, "         0          0 4294967295", MASKED, "unshare failed: Operation not permitted")
    assert len(said) == 3
    assert said[0].startswith("hostUsers: false")
    assert "procMount: Unmasked" in said[1] and "/proc/kcore" in said[1]
    assert "seccompProfile: Localhost profiles/nk-jupyter.json" in said[2]
    assert pod_problems(pod, "0 1000000 65536", "626 625 0:52 / /proc rw - proc proc rw\n", None) == []
