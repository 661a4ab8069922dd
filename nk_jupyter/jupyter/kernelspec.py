"""Install or remove the "Netkit Lab (Python 3)" kernelspec (name: nk-lab).

    python -m nk_jupyter.jupyter.kernelspec install [--user | --sys-prefix | --prefix DIR]
                                                    [--name NAME] [--env KEY=VALUE ...]
    python -m nk_jupyter.jupyter.kernelspec remove [--name NAME]

The kernel is ipykernel with `--ext=nk_jupyter`: the magics are loaded at start, and
the labs a kernel starts are halted when it shuts down or restarts. The files are in
share/kernels/nk-lab/ next to this module (the wheel also ships them as
share/jupyter/kernels/nk-lab). On install, argv[0] becomes this Python, so the kernel
runs in the environment that has nk_jupyter; --env adds variables (e.g. PYTHONPATH for
a source checkout).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

NAME = "nk-lab"
SOURCE = Path(__file__).resolve().parent / "share" / "kernels" / NAME


def spec(env: dict[str, str] | None = None, python: str | None = None) -> dict:
    """The kernel.json contents, with argv[0] set to python (default: this interpreter)."""
    data = json.loads((SOURCE / "kernel.json").read_text())
    data["argv"][0] = python or sys.executable
    if env:
        data["env"] = {**data.get("env", {}), **env}
    return data


def install(user: bool = False, prefix: str | None = None, name: str = NAME,
            env: dict[str, str] | None = None) -> str:
    """Install the kernelspec; returns the folder it went to."""
    from jupyter_client.kernelspec import KernelSpecManager
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        shutil.copytree(SOURCE, folder)
        (folder / "kernel.json").write_text(json.dumps(spec(env), indent=1) + "\n")
        return KernelSpecManager().install_kernel_spec(str(folder), name, user=user, prefix=prefix)


def remove(name: str = NAME) -> None:
    from jupyter_client.kernelspec import KernelSpecManager
    KernelSpecManager().remove_kernel_spec(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nk_jupyter.jupyter.kernelspec", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    inst = sub.add_parser("install", help="install the kernelspec")
    where = inst.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for this user (~/.local/share/jupyter)")
    where.add_argument("--sys-prefix", action="store_true", help="into sys.prefix (this venv / conda env)")
    where.add_argument("--prefix", metavar="DIR", help="into DIR/share/jupyter/kernels")
    inst.add_argument("--name", default=NAME, help=f"kernelspec name (default {NAME})")
    inst.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment for the kernel")
    rem = sub.add_parser("remove", help="remove the kernelspec")
    rem.add_argument("--name", default=NAME)
    args = parser.parse_args(argv)
    if args.action == "remove":
        remove(args.name)
        print(f"Removed kernelspec {args.name}")
        return 0
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--env {item}: write KEY=VALUE")
        env[key] = value
    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install(user=args.user, prefix=prefix, name=args.name, env=env)
    print(f"Installed kernelspec {args.name} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
