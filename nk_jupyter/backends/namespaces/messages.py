"""What the supervisor and each machine's init say to each other (nk_jupyter.wire).

    supervisor -> zygote:   the init's plan (initplan.plan(layout)) and descriptors (zygote.py)
    init -> supervisor:     Stage("ns")        + [its netns, and the sysctls it hands over]:
                                               write those, plug its links into it now
    supervisor -> init:     Orders(...)        what to do once its links exist (as the NUL-
                                               terminated words initplan.order_words makes:
                                               nk-init is a C program)
    init -> supervisor:     Stage("rooted")    + [an O_PATH fd of its /dev/pts]
                            Stage("ready")     links up, sysctls and files done
                            (any stage may come back with error=...; then it dies)
"""
from __future__ import annotations

from ...records import dataclass, field


@dataclass(frozen=True)
class NodeLayout:
    """Everything a machine's init needs; plain data made by the supervisor.

    labfd and usernsfd are the supervisor's descriptors of the lab folder (O_PATH, opened once)
    and of the machines' user namespace: sent to the zygote with each init's request.
    """
    name: str
    root: str            # the folder (with the disk) that becomes the machine's /
    scratch: str         # folder on the scratch space for /tmp, /run, /dev/shm
    disk: str            # the machine's kept files: overlay upper dirs, /root, /home, /srv
    template: str        # the lab's template of host files (etc, var)
    labdir: str          # the lab folder (its descriptor is labfd)
    shims: str           # nk's files for machines: bin/ and share/ are bound read-only in /run/nk
    host_top: tuple[tuple[str, str], ...]  # (name, "dir" | "link:TARGET") of what the machine sees
    labfd: int
    usernsfd: int
    owner_uid: int       # owner of the machine's user namespace, unique in the lab
    nproc: int           # most processes and threads the machine may have at once
    cgroup: str = ""     # the machine's cgroup folders (":"-separated), if the lab has delegated ones
    sysctls: tuple[tuple[str, str], ...] = ()  # defaults, written before any interface exists
    image: str = ""      # a container image's files (their tree in the lab's mount namespace): the
                         # machine's / is made of them instead of the host's


@dataclass
class Stage:
    stage: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    sysctls: list[tuple[str, str]] = field(default_factory=list)  # "ns": to write to the fds after the netns
    root_s: float = 0.0
    root_cpu_s: float = 0.0
    all_s: float = 0.0


@dataclass
class Orders:
    up: list[str] = field(default_factory=list)              # interfaces to bring up
    sysctls: list[tuple[str, str]] = field(default_factory=list)
    first_boot: bool = False                                  # write /etc/hosts and /etc/hostname
    sh: str = ""                                              # make /bin/sh this ("" leaves it)
    copy: list[str] = field(default_factory=list)             # folders copied over / (first boot)
    nameserver: str = ""                                      # /etc/resolv.conf (an uplink's DNS)
