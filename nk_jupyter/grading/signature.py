"""Signatures: the reference results of a lab's tests, and comparing results with them.

`_test/signature/` holds MACHINE.user / MACHINE.default / MACHINE.shared as Netkit made
them, plus a small manifest, `.nk-signature.json`, naming the lab and its machines, so a
signature copied from another lab is refused instead of compared. Signatures without a
manifest (old Netkit labs) are accepted when every machine they name is in the lab.

Comparison follows `diff -qEbB`: tabs expand, runs of blanks count as one, trailing blanks
and blank lines are ignored.
"""
from __future__ import annotations

import difflib
import json
import re
import stat
from ..records import dataclass

from ..errors import LabConfError, UserError
from ..labconf.files import Folder

MANIFEST = ".nk-signature.json"
KINDS = ("shared", "user", "default")
FORMAT = 1
RESULT_LIMIT = 16 << 20  # a result or signature file nk reads


def result_files(folder: Folder | None) -> dict[str, dict[str, str]]:
    """{machine: {kind: file name}} of the regular MACHINE.KIND files in folder (others,
    symlinks included, are ignored)."""
    out: dict[str, dict[str, str]] = {}
    for fname, kind_of in (folder.entries() if folder else []):
        name, dot, kind = fname.rpartition(".")
        if dot and kind in KINDS and name and kind_of == stat.S_IFREG:
            out.setdefault(name, {})[kind] = fname
    return out


def write_manifest(folder: Folder, lab_name: str, machines: list[str]) -> None:
    doc = {"format": FORMAT, "lab": lab_name, "machines": sorted(machines),
           "tool": "nk-jupyter ltest", "comparison": "diff -qEbB"}
    folder.write(MANIFEST, (json.dumps(doc, indent=2) + "\n").encode())


def check_origin(folder: Folder, lab_name: str, machines: list[str]) -> None:
    """UserError unless the signature in folder belongs to this lab."""
    path = folder.path / MANIFEST
    lab_set = set(machines)
    if any(name == MANIFEST for name, _ in folder.entries()):
        try:
            doc = json.loads(folder.read(MANIFEST))
        except ValueError as e:
            raise LabConfError(path, getattr(e, "lineno", None), f"not a valid signature manifest: {e}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("machines"), list):
            raise LabConfError(path, 1, "not a valid signature manifest: no machine list")
        signed = set(map(str, doc["machines"]))
        if signed != lab_set:
            raise UserError(_foreign(folder, f"it was made for lab {doc.get('lab')!r} with machines "
                                             f"{', '.join(sorted(signed)) or 'none'}; this lab {lab_name!r} has "
                                             f"{', '.join(sorted(lab_set)) or 'none'}"))
        return
    unknown = sorted(set(result_files(folder)) - lab_set)
    if unknown:
        raise UserError(_foreign(folder, f"it has results for {', '.join(unknown)}, which this lab does not have "
                                         f"(machines: {', '.join(sorted(lab_set))})"))


def _foreign(folder: Folder, why: str) -> str:
    return (f"{folder.path} is a signature of another lab: {why}. Not compared; "
            f"rebuild it with nk ltest -R if this lab is the reference")


def normalise(text: str) -> list[str]:
    """Lines as `diff -EbB` sees them: tabs expanded, blank runs collapsed, blank lines gone."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"[ \t\f\v\r]+", " ", line.expandtabs()).rstrip()
        if line:
            lines.append(line)
    return lines


def same(a: str, b: str) -> bool:
    return normalise(a) == normalise(b)


def readable_diff(expected: str, actual: str, expected_name: str, actual_name: str, limit: int = 60) -> str:
    """A unified diff of the normalised texts (what made the comparison fail), at most limit lines."""
    lines = list(difflib.unified_diff(normalise(expected), normalise(actual), expected_name, actual_name,
                                      lineterm="", n=2))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


@dataclass
class Mismatch:
    """One result file that differs from (or is missing against) its signature."""
    kind: str
    message: str
    diff: str = ""


def compare(machine: str, results: Folder, signature: Folder, verify: str | None) -> list[Mismatch]:
    """The mismatches of machine's results against its signature (empty: it passes).

    verify None: MACHINE.user if the signature has one, else MACHINE.default (Netkit's
    policy); "user", "builtin" (the .default file) or "both" (every file, either side).
    """
    sig = result_files(signature).get(machine, {})
    res = result_files(results).get(machine, {})
    if not sig:
        return [Mismatch("", f"the signature has no results for {machine}")]
    if verify is None:
        kinds = ["user"] if "user" in sig else ["default"]
    elif verify == "user":
        kinds = ["user"]
    elif verify == "builtin":
        kinds = ["default"]
    else:
        kinds = [k for k in KINDS if k in sig or k in res]
    out = []
    for kind in kinds:
        name = f"{machine}.{kind}"
        if kind not in sig and kind not in res:
            continue  # e.g. --verify=user for a machine without user test
        if kind not in sig:
            out.append(Mismatch(kind, f"the signature has no {name}"))
        elif kind not in res:
            out.append(Mismatch(kind, f"no result {name} (the test produced nothing to compare)"))
        else:
            want = signature.read(sig[kind], RESULT_LIMIT).decode(errors="replace")
            got = results.read(res[kind], RESULT_LIMIT).decode(errors="replace")
            if not same(want, got):
                out.append(Mismatch(kind, f"{name} differs from the signature",
                                    readable_diff(want, got, f"signature/{name}", f"results/{name}")))
    return out


def sign(results: Folder, test_dir: Folder, lab_name: str, machines: list[str]) -> None:
    """Make results the new signature, test_dir/signature (Netkit moves the folder): the bytes
    of each regular result file are copied (never what a symlink points to); writes the manifest."""
    test_dir.remove("signature")
    with test_dir.sub("signature", create=True) as signature:
        for files in result_files(results).values():
            for fname in files.values():
                signature.write(fname, results.read(fname, RESULT_LIMIT))
        write_manifest(signature, lab_name, machines)
