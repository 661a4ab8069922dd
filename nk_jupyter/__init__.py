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


def load_ipython_extension(ip):
    from .jupyter import load_ipython_extension as load
    load(ip)


def unload_ipython_extension(ip):
    from .jupyter import unload_ipython_extension as unload
    unload(ip)
