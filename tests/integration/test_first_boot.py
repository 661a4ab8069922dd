"""Netkit's first boot: shared/ then MACHINE/ copied over the machine's / by its init
(helpers/init.h) as `tar -xp --no-same-owner --keep-directory-symlink` would, with
Kathara's conventions; nothing of it on later boots."""
from __future__ import annotations

import os

from nk_jupyter.model.events import WarningEvent

OLD = 1_000_000_000  # 2001-09-09: a time the copy must keep


def test_a_lab_folder_is_copied_over_the_machine_s_root_as_tar_would(make_lab, started):
    folder = make_lab({
        "lab.conf": "pc1[0]=A\n",
        "shared/etc/both": "shared\n",
        "shared/etc/nk-shared": "only in shared\n",
        "pc1/etc/both": "pc1\n",
        "pc1/lib/nk-test/data": "through the /lib symlink\n",
        "pc1/root/tool": "#!/bin/sh\necho tool\n",
        "pc1/root/deep/er/file": "deep\n",
        "pc1/etc/mtab": "a file where the host has a symlink\n",
        "pc1/etc/apt": "a file where a folder is\n",
        "pc1/etc/frr/frr.conf": "hostname pc1\n",
        "pc1/var/www/html/up/page.txt": "page\n",
        "pc1/etc/systemd/system/multi-user.target.wants/nk-demo.service": "[Service]\nExecStart=/bin/true\n",
    })
    m = folder / "pc1"
    (m / "root" / "tool").chmod(0o4755)  # set-ID bits are dropped
    os.utime(m / "root" / "tool", (OLD, OLD))
    os.utime(m / "root" / "deep", (OLD, OLD))
    os.symlink("both", m / "etc" / "nk-link")
    (m / "var" / "www" / "html" / "up" / "page.txt").chmod(0o600)
    events = []
    lab, result = started(folder, progress=events.append)
    assert result.ok, result
    warnings = [e.message for e in events if isinstance(e, WarningEvent)]

    def sh(cmd: str) -> str:
        r = lab.run("pc1", cmd)
        assert r.status == 0, (cmd, r)
        return r.stdout.strip()
    assert sh("cat /etc/both /etc/nk-shared") == "pc1\nonly in shared"  # shared/, then pc1/ over it
    assert sh("readlink /lib; cat /usr/lib/nk-test/data") == "usr/lib\nthrough the /lib symlink"
    assert sh("stat -c '%a %Y' /root/tool; /root/tool") == f"755 {OLD}\ntool"
    assert sh("stat -c %Y /root/deep; cat /root/deep/er/file") == f"{OLD}\ndeep"
    assert sh("readlink /etc/nk-link") == "both"
    assert sh("stat -c %F /etc/mtab; cat /etc/mtab") == "regular file\na file where the host has a symlink"
    assert sh("stat -c %F /etc/apt") == "directory"
    assert any("etc/apt" in w and "a folder is in the way" in w for w in warnings), warnings
    # Kathara's conventions: FRR's config handed to frr, the web root writable by all, units enabled
    assert sh("stat -c '%U %G %a' /etc/frr /etc/frr/frr.conf") == "frr frr 755\nfrr frr 640"
    assert sh("stat -c %a /var/www/html/up/page.txt") == "666"
    assert sh("cat /var/lib/nk/enabled-units") == "nk-demo.service"
    # the copy is the machine's own and happens on the first boot only
    sh("echo changed > /etc/both; rm /etc/nk-shared")
    lab.halt()
    lab.start()
    assert sh("cat /etc/both; ls /etc/nk-shared 2>/dev/null || echo gone") == "changed\ngone"

