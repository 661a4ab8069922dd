"""The package's metadata is in pyproject.toml; this builds nk's static helper programs.

nk_jupyter/helpers/*.c are compiled (static: they run where no host library may) into
nk_jupyter/helpers/ of the build (of the source tree for an editable install). They need a C
compiler and the static C library (Debian: gcc libc6-dev); without them the install fails
with that message rather than make a nk that cannot start a machine. The wheel is tagged
for the platform it was built on.
"""
import os
import shlex
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HELPERS = ("nk-enter", "nk-reap", "nk-spawn", "nk-userns")  # (nk_jupyter.helpers.PROGRAMS)
# Built with musl when it is installed (Debian: musl-tools): every machine's pid 1 starts from
# it, and the GNU C library's start-up asks the processor its features one question at a time,
# each a trap under a hypervisor (~0.4 ms per start on nk's CI machine). The others start once
# per lab or per command and keep the GNU C library's _FORTIFY_SOURCE checks.
MUSL = ("nk-reap",)
CFLAGS = ("-Os", "-s", "-Wall", "-Wextra", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong")


def compilers(name: str) -> list[tuple[list[str], list[str]]]:
    """(compiler, link flags) to try for helper `name`, best first."""
    cc = shlex.split(os.environ.get("CC", "cc"))
    tries = [(cc, ["-static-pie"]), (cc, ["-static"])]  # (an address-randomised binary where the toolchain can)
    musl = shutil.which("musl-gcc") if name in MUSL and "CC" not in os.environ else None
    if musl:  # (musl-gcc's -static-pie makes a dynamic program; musl has no _FORTIFY_SOURCE checks)
        tries.insert(0, ([musl], ["-static"]))
    return tries


def compile_helper(name: str, source: str, out: str) -> None:
    errors = []
    for cc, link in compilers(name):
        try:
            done = subprocess.run([*cc, *link, *CFLAGS, "-o", out, source], capture_output=True, text=True)
        except OSError as e:
            raise SystemExit(f"nk-jupyter: cannot run the C compiler {cc[0]}: {e.strerror} "
                             "(Debian: apt install gcc libc6-dev)") from None
        if done.returncode == 0:
            os.chmod(out, 0o755)
            return
        errors.append(done.stderr.strip())
    raise SystemExit(f"nk-jupyter: cannot build {source} (Debian: apt install gcc libc6-dev):\n" + errors[-1])


class BuildWithHelpers(build_py):
    def run(self) -> None:
        super().run()
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nk_jupyter", "helpers")
        where = here if getattr(self, "editable_mode", False) else os.path.join(self.build_lib, "nk_jupyter", "helpers")
        os.makedirs(where, exist_ok=True)
        for name in HELPERS:
            compile_helper(name, os.path.join(here, f"{name}.c"), os.path.join(where, name))


class WithPrograms(Distribution):
    """The wheel holds programs built for this machine's architecture: it is tagged for it."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildWithHelpers}, distclass=WithPrograms)
