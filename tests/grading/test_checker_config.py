"""Malformed checker configurations are refused before any lab starts, naming file and line."""
from __future__ import annotations

import pytest

from nk_jupyter.errors import LabConfError
from nk_jupyter.grading.checker.config import load_config
from nk_jupyter.grading.checker.grade import build_plan

from .conftest import GRADING_LABS, nk


def plan_of(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return build_plan(load_config(path))


@pytest.mark.parametrize("name, text, where", [
    ("a.json", '{\n  "test": {\n    "reachability": {"r1": ["1.2.3.4",]}\n  }\n}\n',
     "a.json:3: not valid JSON"),
    ("b.yaml", "test:\n  reachability:\n    r1: [1.2.3.4\n  daemons: {}\n", "b.yaml:4: not valid YAML"),
    ("c.yaml", "convergence_time: 1\ntest:\n  kernel_routes:\n    r1: 10.0.0.0/8\n",
     "c.yaml:4: test.kernel_routes.r1: expected a list, got a string"),
    ("d.json", '{\n\t"test": {\n\t\t"ip_mapping": {\n\t\t\t"r1": {\n\t\t\t\t"0": "10.0.0.300/24"\n\t\t\t}\n\t\t}\n\t}\n}\n',
     "d.json:5: test.ip_mapping.r1.0: '10.0.0.300/24' is not an address with prefix length"),
    ("e.yaml", "test:\n  reachabilty:\n    r1: [1.2.3.4]\n", "e.yaml:2: test.reachabilty: unknown check"),
    ("f.yaml", "test:\n  custom_commands:\n    r1:\n      - command: ls\n        regex_match: '('\n",
     "f.yaml:4: test.custom_commands.r1.0: regex_match '(' is not a valid regular expression"),
    ("g.yaml", "test:\n  custom_commands:\n    r1:\n      - command: ls\n",
     "g.yaml:4: test.custom_commands.r1.0: say what to expect"),
    ("h.yaml", "convergence_time: soon\ntest: {}\n", "h.yaml:1: convergence_time: expected a number"),
    ("i.yaml", "- just\n- a list\n", "i.yaml:1: a checker configuration is a mapping"),
    ("j.yaml", "convergence_time: 1\n", "j.yaml:1: no `test:` section"),
    ("k.yaml", "structure: nowhere/lab.conf\ntest: {}\n", "k.yaml:1: structure: the structure file 'nowhere/lab.conf'"),
    ("l.yaml", "convergence_time: 1\nlab_inline: |\n  r1[0]=A\n  r1[0]=B\ntest: {}\n",
     "l.yaml:4: lab_inline: r1 eth0 is already attached to 'A'"),
    ("m.yaml", "test:\n  protocols:\n    ospfd:\n      neighbours:\n        r1: []\n",
     "m.yaml:4: test.protocols.ospfd.neighbours: unknown OSPF check"),
])
def test_malformed_configs_name_file_and_line(tmp_path, name, text, where):
    with pytest.raises(LabConfError) as info:
        plan_of(tmp_path, name, text)
    assert str(info.value).startswith(str(tmp_path / where.split(":")[0])), str(info.value)
    assert str(info.value).replace(str(tmp_path) + "/", "").startswith(where), str(info.value)


def test_cli_reports_config_errors_with_exit_3(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("test:\n  daemons:\n    r1: ospfd\n")
    r = nk("check", str(path), "-d", str(GRADING_LABS / "ospf_pair"))
    assert r.returncode == 3
    assert r.stderr.strip() == f"nk check: {path}:3: test.daemons.r1: expected a list, got a string"
    r = nk("check", str(tmp_path / "missing.yaml"))
    assert r.returncode == 3 and "no such checker configuration file" in r.stderr


def test_existing_oracles_plan(tmp_path):
    # the shape of Kathara-Labs' exercise solutions and kathara-lab-checker's examples
    plan = plan_of(tmp_path, "oracle.json", (GRADING_LABS / "configs" / "ospf_pair.json").read_text())
    assert len(plan.steps) == 6 and plan.convergence_time == 3
    plan = plan_of(tmp_path, "bridges.yaml", "convergence_time: 1\ntest:\n  bridges: {}\n"
                   "  protocols:\n    bgpd:\n      evpn: {}\n      networks: {r1: [10.0.0.0/8]}\n"
                   "      injections: {r1: [ospf, '!connected']}\n")
    assert len(plan.steps) == 3
    assert [w.split(": ", 1)[1] for w in plan.warnings] == [
        "test.bridges is not supported by nk check; skipped", "EVPN checks are not supported by nk check; skipped"]
