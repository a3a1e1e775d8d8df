"""One hub user plants links where another's exports will go, for real, on the hub of conftest.py.

What happened on a real hub: A saw B's kernel PID in /proc and planted a symlink in /tmp at
the temporary name B's export would use (``.{name}.{pid}.tmp``), pointing at a file of
hers that B could write; B's export wrote his private records into it. Here A does the
same from her own kernel, as her Unix user, in /tmp (sticky) and in a team share (a
world-writable directory without the sticky bit), also at the destination names; then B
exports his private run in every format and writes a report from his kernel.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import uuid
from pathlib import Path

import pytest
from hub_world import World

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.timeout(420)]

TRAP = "A's trap file\n"

# A, as herself: find B's kernels in /proc, plant links to files of hers B can write.
PLANT = """
P = json.loads({params!r})
b_uid = pwd.getpwnam(P["b"]).pw_uid
pids = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            if os.stat(f"/proc/{{entry}}").st_uid == b_uid:
                with open(f"/proc/{{entry}}/cmdline", "rb") as fh:
                    if b"ipykernel" in fh.read():
                        pids.append(int(entry))
        except OSError:
            pass
links = []
for t in P["targets"]:
    trap = os.path.join(t["dir"], "a-trap-" + t["name"])
    with open(trap, "w") as fh:
        fh.write(P["trap"])
    os.chmod(trap, 0o666)
    names = [f".{{t['name']}}.{{pid}}.tmp" for pid in pids]
    if t["at_destination"]:
        names.append(t["name"])
    for name in names:
        os.symlink(trap, os.path.join(t["dir"], name))
        links.append(os.path.join(t["dir"], name))
print(json.dumps({{"pids": pids, "links": links}}))
"""

# B, as himself: export his private run and write a report of it.
EXPORT = """
P = json.loads({params!r})
import llmbench_jupyter as lj
from llmbench_jupyter.store import open_store
out = {{}}
for t in P["targets"]:
    path = os.path.join(t["dir"], t["name"])
    try:
        if t["kind"] == "html":
            lj.export_html(lj.load(P["run"]), path)
        else:
            open_store().export(P["run"], path, t["kind"])
        out[path] = {{"ok": True}}
    except Exception as e:
        out[path] = {{"ok": False, "error": type(e).__name__ + ": " + str(e)}}
print(json.dumps(out))
"""

READ_BACK = """
print(json.dumps({{p: try_os(lambda p=p: open(p).read()) for p in {paths!r}}}))
"""


def _target(directory: Path, name: str, kind: str, at_destination: bool) -> dict[str, object]:
    return {"dir": str(directory), "name": name, "kind": kind, "at_destination": at_destination}


def test_links_planted_by_another_user_never_receive_an_export(world: World) -> None:
    tag = uuid.uuid4().hex[:8]
    share = Path(f"/tmp/llmbench-e2e-share-{tag}")  # a team share: 0777, no sticky bit
    share.mkdir()
    share.chmod(0o777)
    tmp = Path("/tmp")
    prefix = f"llmbench-e2e-f{tag}"
    ok_targets = [
        *(_target(share, f"b-runs.{fmt}", fmt, True) for fmt in ("csv", "json", "jsonl")),
        _target(share, "b-report.html", "html", True),
        _target(tmp, f"{prefix}-runs.csv", "csv", False),
        _target(tmp, f"{prefix}-report.html", "html", False),
    ]
    # In sticky /tmp, B cannot replace A's link at the destination: refused, not followed.
    refused = _target(tmp, f"{prefix}-taken.csv", "csv", True)
    targets = [*ok_targets, refused]
    b_run = world.runs["b"][0]["run_id"]  # b-private
    b_uid = pwd.getpwnam(world.b.name).pw_uid
    try:
        params = json.dumps({"b": world.b.name, "targets": targets, "trap": TRAP})
        planted = world.kernels["a"].execute(PLANT.format(params=params)).json()
        # A found B's kernel the way the attacker did, so the old names were the right ones.
        assert world.whoami["b"]["pid"] in planted["pids"]
        assert len(planted["links"]) >= len(targets) * len(planted["pids"])

        params = json.dumps({"run": b_run, "targets": targets})
        exported = world.kernels["b"].execute(EXPORT.format(params=params)).json()

        for t in targets:  # every trap of A's still holds only what A wrote
            trap = Path(str(t["dir"])) / f"a-trap-{t['name']}"
            assert trap.read_text() == TRAP, f"B's export wrote through A's link to {trap}"
        paths = [str(Path(str(t["dir"])) / str(t["name"])) for t in ok_targets]
        for path in paths:
            assert exported[path] == {"ok": True}, exported[path]
            info = os.lstat(path)
            assert stat.S_ISREG(info.st_mode), path  # A's link was replaced, not followed
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (b_uid, 0o600), path
            assert b_run in Path(path).read_text() or path.endswith(".html")
        taken = str(tmp / str(refused["name"]))
        assert exported[taken]["ok"] is False
        assert exported[taken]["error"].startswith("InputError: ")
        assert taken in exported[taken]["error"] and "another user" in exported[taken]["error"]
        assert os.path.islink(taken)  # A's link is left alone
        # no temporary file of B's left behind, in the share or in /tmp
        mine = [p.name for p in share.iterdir() if not p.is_symlink()]
        assert sorted(n for n in mine if not n.startswith("a-trap-")) == sorted(
            str(t["name"]) for t in ok_targets if t["dir"] == str(share)
        )
        assert [p for p in tmp.glob(f".{prefix}*") if not p.is_symlink()] == []

        read = world.kernels["a"].execute(READ_BACK.format(paths=paths)).json()
        for path in paths:
            assert read[path] == {"ok": False, "error": "PermissionError"}, (path, read[path])
    finally:
        shutil.rmtree(share, ignore_errors=True)
        for pattern in (f"{prefix}*", f".{prefix}*", f"a-trap-{prefix}*"):
            for leftover in tmp.glob(pattern):
                leftover.unlink(missing_ok=True)
