"""labconf/compat.py: which #!/bin/sh scripts need bash (Netkit's /bin/sh was bash)."""
from __future__ import annotations

from nk_jupyter.labconf.compat import bash_as_sh, bashism


def test_bash_syntax_is_found_with_its_line():
    assert bashism("echo a\nif [[ -f x ]]; then :; fi\n") == (2, "[[ ]]")
    assert bashism("ls >& /tmp/out\n")[1] == ">& FILE redirection"
    assert bashism("source /etc/profile\n")[1] == "source"
    assert bashism("a=(1 2 3)\n")[1] == "arrays"


def test_posix_scripts_are_left_alone():
    for text in ("echo ok 2>&1\n", "cmd >&2\n", "[ \"$a\" = b ] && exit 0\n", "# [[ in a comment\n",
                 "x=$((1 + 2))\n", "exec 3>&-\n"):
        assert bashism(text) is None, text


def test_only_sh_scripts_decide(tmp_path):
    lab = tmp_path / "lab"
    (lab / "pc1" / "usr" / "bin").mkdir(parents=True)
    (lab / "pc1" / "usr" / "bin" / "a").write_text("#!/bin/bash\n[[ -f x ]]\n")
    (lab / "pc1.startup").write_text("[[ -f x ]] && echo y\n")  # run by bash: no decision
    assert bash_as_sh(lab, [lab / "pc1"]) is None
    (lab / "pc1" / "usr" / "bin" / "b").write_text("#!/bin/sh\nfunction f { :; }\n")
    assert bash_as_sh(lab, [lab / "pc1"]) == "pc1/usr/bin/b:2 uses function NAME"
