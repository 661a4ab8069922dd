"""`pip install <the wheel>` into a fresh venv is enough: the Jupyter face, the "Netkit Lab"
kernel (found and started by a JupyterLab whose venv is not on PATH), the prebuilt
labextension and the server extension, enabled. scripts/test.sh makes that venv
(NK_WHEEL_VENV) from the wheel it builds; no package is fetched here."""
from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

VENV = Path(os.environ.get("NK_WHEEL_VENV", "/opt/nk-wheel-venv"))
pytestmark = pytest.mark.skipif(not (VENV / "bin" / "python").exists(),
                                reason=f"no venv made from the wheel at {VENV} (scripts/test.sh makes it)")


def clean_env(tmp_path: Path) -> dict[str, str]:
    """Nothing of the test run's Jupyter set-up, and the venv not on PATH."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "JUPYTER_PLATFORM_DIRS": "1",
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", ""), "LANG": "C.UTF-8"}


def run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=clean_env(tmp_path))


def test_extensions_and_kernel_are_installed_and_enabled(tmp_path):
    bin_ = VENV / "bin"
    out = run(tmp_path, str(bin_ / "jupyter"), "labextension", "list")
    assert "nk-jupyter-labextension" in out.stdout + out.stderr and "enabled" in out.stdout + out.stderr
    out = run(tmp_path, str(bin_ / "jupyter"), "server", "extension", "list")
    assert "nk_jupyter.jupyter.server" in out.stdout + out.stderr and "OK" in out.stdout + out.stderr
    out = run(tmp_path, str(bin_ / "jupyter"), "kernelspec", "list")
    assert "nk-lab" in out.stdout and str(VENV / "share" / "jupyter" / "kernels" / "nk-lab") in out.stdout


def test_the_netkit_kernel_starts_from_a_venv_not_on_path(tmp_path):
    script = textwrap.dedent("""
        import jupyter_client
        km, kc = jupyter_client.manager.start_new_kernel(kernel_name="nk-lab", startup_timeout=90)
        try:
            out = []
            def keep(msg):
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                if msg["msg_type"] == "error":
                    out.append("ERROR " + msg["content"]["ename"] + " " + msg["content"]["evalue"])
            kc.execute_interactive("import sys, nk_jupyter; print(sys.executable); "
                                   "print(get_ipython().find_line_magic('lstart') is not None); "
                                   "print(get_ipython().find_line_magic('vdump') is not None)",
                                   output_hook=keep, timeout=60)
            print("".join(out))
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    """)
    out = run(tmp_path, str(VENV / "bin" / "python"), "-c", script)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split()
    assert lines[0].startswith(str(VENV)), out.stdout  # the kernel runs in the wheel's venv
    assert lines[1:3] == ["True", "True"], out.stdout


def test_load_ext_names_a_missing_package_instead_of_a_traceback(tmp_path):
    # a Python without ipywidgets (the system one, with IPython absent or present) gets one line
    script = ("import sys, types; sys.modules['ipywidgets'] = None\n"
              "import importlib.util as u; real = u.find_spec\n"
              "u.find_spec = lambda name, *a: None if name == 'ipywidgets' else real(name, *a)\n"
              "import nk_jupyter\nnk_jupyter.load_ipython_extension(None)\nprint('returned')\n")
    out = run(tmp_path, str(VENV / "bin" / "python"), "-c", script)
    assert out.returncode == 0 and "returned" in out.stdout, out.stderr
    assert "needs ipywidgets" in out.stderr and "pip install ipywidgets" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_wheel_s_nk_vcmd_runs_a_command_without_heavy_imports(tmp_path):
    """The wheel's `nk` is nk's own script (not pip's entry-point wrapper, which imports `re`):
    `nk vcmd` into a running lab loads no `re`, `json`, `enum`, `socket`, `collections`... (each
    costs every grading script's command; python -X importtime lists what a process loaded)."""
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "lab.conf").write_text("pc1[0]=A\n")
    nk = str(VENV / "bin" / "nk")
    assert Path(nk).read_text().startswith(f"#!{VENV / 'bin' / 'python'}")
    env = {**os.environ, "PATH": f"{VENV / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"}
    started = subprocess.run([nk, "lstart", "-d", str(lab)], capture_output=True, text=True, timeout=120, env=env)
    assert started.returncode == 0, started.stderr
    try:
        out = subprocess.run([str(VENV / "bin" / "python"), "-X", "importtime", nk, "vcmd", "-d", str(lab), "pc1",
                              "echo from-pc1; exit 3"], capture_output=True, text=True, timeout=60, env=env)
        assert out.stdout == "from-pc1\n" and out.returncode == 3, out
        loaded = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
        assert "nk_jupyter.quick" in loaded
        assert not loaded & {"re", "json", "enum", "socket", "selectors", "collections", "functools", "typing",
                             "dataclasses", "argparse", "signal"}, sorted(loaded)
    finally:
        subprocess.run([nk, "lcrash", "-d", str(lab)], capture_output=True, timeout=120, env=env)
