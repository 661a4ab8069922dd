"""nk-jupyter: rootless Netkit/Kathara labs as Linux namespaces, from Jupyter, a CLI or Python.

Public names: Lab (nk_jupyter.api), ExecResult, and the errors in nk_jupyter.errors.
Nothing heavy is imported here, so `%load_ext nk_jupyter` stays fast.
"""
from __future__ import annotations

__version__ = "0.1.0"


def __getattr__(name):
    if name in ("Lab", "ExecResult", "ExecStream"):
        from . import api
        return getattr(api, name)
    raise AttributeError(name)


JUPYTER_NEEDS = {"IPython": "ipython", "ipykernel": "ipykernel", "ipywidgets": "ipywidgets",
                 "ipycytoscape": "ipycytoscape"}


def load_ipython_extension(ip):
    import importlib.util
    import sys
    missing = [pkg for mod, pkg in JUPYTER_NEEDS.items() if importlib.util.find_spec(mod) is None]
    if missing:  # a clear line, not a traceback (pip install nk-jupyter brings them all)
        print(f"nk_jupyter: the Jupyter face needs {', '.join(missing)}, which this Python "
              f"({sys.executable}) lacks: {sys.executable} -m pip install {' '.join(missing)}", file=sys.stderr)
        return
    from .jupyter import load_ipython_extension as load
    load(ip)


def unload_ipython_extension(ip):
    from .jupyter import unload_ipython_extension as unload
    unload(ip)
