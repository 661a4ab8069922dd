"""Run notebooks on the real nk-lab kernel with nbclient (used by the tests).

    python -m tests.jupyter.nbrun [--save] notebooks/01_lan.ipynb ...

--save writes the executed notebooks back (to refresh their stored outputs, which nbval
compares). The nk-lab kernelspec must be installed (python -m nk_jupyter.jupyter.kernelspec install).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: float = 300) -> tuple[nbformat.NotebookNode, float]:
    """The notebook at path, executed top to bottom in a fresh kernel; and the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=nb.metadata["kernelspec"]["name"],
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    client.execute()
    return nb, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save", action="store_true")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        nb, seconds = execute(path)
        print(f"{path}: ran in {seconds:.1f} s")
        if args.save:
            nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
