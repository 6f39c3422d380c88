"""Choosing the resource control (cgroup v2, v1 or rlimits only) on fake /sys/fs/cgroup trees, and the mode this
machine takes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeja.sandbox import Limits, probe_bwrap, run
from codeja.sandbox.cgroups import host_selection, parse_mountinfo, parse_proc_cgroup, select

# /proc/self/mountinfo of a cgroup v2 host, of a v1/v2 hybrid like this project's CI machine, and of a container
# that mounts only its own v1 subtree
V2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
HYBRID = """31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_SELF = "4:pids:/\n3:memory:/job/abc\n2:cpu,cpuacct:/\n0::/\n"
CONTAINER = "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro,relatime - cgroup cgroup rw,memory\n"


def tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def never(d, controllers):
    raise AssertionError("nothing to enable")


def test_parsers():
    mounts = parse_mountinfo(HYBRID)
    assert [(m[1], m[2]) for m in mounts] == [
        ("/sys/fs/cgroup/cpu,cpuacct", "cgroup"), ("/sys/fs/cgroup/memory", "cgroup"),
        ("/sys/fs/cgroup/pids", "cgroup"),
        ("/sys/fs/cgroup/unified", "cgroup2")]
    assert {"cpu", "cpuacct"} <= mounts[0][3]
    own = parse_proc_cgroup(HYBRID_SELF)
    assert own == {"pids": "/", "memory": "/job/abc", "cpu": "/", "cpuacct": "/", "": "/"}
    assert parse_mountinfo("garbage\n\n") == [] and parse_proc_cgroup("") == {}


def test_v2_delegated(tmp_path):
    tree(tmp_path, {"/sys/fs/cgroup/user.slice/me/cgroup.controllers": "cpu memory pids\n",
                    "/sys/fs/cgroup/user.slice/me/cgroup.subtree_control": "memory pids\n"})
    sel = select(V2, "0::/user.slice/me\n", root=str(tmp_path), enable=never)
    assert sel.mode == "cgroup-v2" and sel.dirs == {"unified": str(tmp_path / "sys/fs/cgroup/user.slice/me")}


def test_v2_enables_controllers_or_says_why_not(tmp_path):
    tree(tmp_path, {"/sys/fs/cgroup/cgroup.controllers": "memory pids\n", "/sys/fs/cgroup/cgroup.subtree_control": ""})
    asked = []
    sel = select(V2, "0::/\n", root=str(tmp_path), enable=lambda d, cs: asked.append(cs) or "")
    assert sel.mode == "cgroup-v2" and asked == [["memory", "pids"]]
    sel = select(V2, "0::/\n", root=str(tmp_path), enable=lambda d, cs: f"{d} holds processes")
    assert sel.mode == "rlimit" and "holds processes" in sel.reason


def test_v2_without_controllers_falls_back_to_v1(tmp_path):
    """This project's CI machine: v2 mounted beside v1 but offering only hugetlb; the v1 memory tree is ours."""
    tree(tmp_path, {"/sys/fs/cgroup/unified/cgroup.controllers": "hugetlb\n",
                    "/sys/fs/cgroup/memory/job/abc/memory.limit_in_bytes": "", "/sys/fs/cgroup/pids/pids.max": "",
                    "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage": "0"})
    sel = select(HYBRID, HYBRID_SELF, root=str(tmp_path), enable=never)
    assert sel.mode == "cgroup-v1"
    assert sel.dirs == {"memory": str(tmp_path / "sys/fs/cgroup/memory/job/abc"),
                        "pids": str(tmp_path / "sys/fs/cgroup/pids"),
                        "cpuacct": str(tmp_path / "sys/fs/cgroup/cpu,cpuacct")}


def test_v1_not_writable_or_absent_is_rlimit(tmp_path):
    tree(tmp_path, {"/sys/fs/cgroup/memory/job/abc/x": ""})
    sel = select(HYBRID, HYBRID_SELF, root=str(tmp_path), enable=never, writable=lambda d: False)
    assert sel.mode == "rlimit" and "not writable" in sel.reason and "offers no memory/pids" in sel.reason
    sel = select("", "", root=str(tmp_path))
    assert sel.mode == "rlimit" and "no memory hierarchy" in sel.reason


def test_v1_container_subtree_mount(tmp_path):
    tree(tmp_path, {"/sys/fs/cgroup/memory/memory.limit_in_bytes": ""})
    sel = select(CONTAINER, "3:memory:/docker/abc\n", root=str(tmp_path))
    assert sel.mode == "cgroup-v1" and sel.dirs["memory"] == str(tmp_path / "sys/fs/cgroup/memory")


def test_environment_switch(tmp_path):
    assert select(V2, "0::/\n", env="off").mode == "rlimit"
    tree(tmp_path, {"/delegated/cgroup.controllers": "memory pids",
                    "/delegated/cgroup.subtree_control": "memory pids"})
    sel = select("", "", root=str(tmp_path), env="/delegated", enable=never)
    assert sel.mode == "cgroup-v2" and sel.dirs["unified"] == str(tmp_path / "delegated")
    sel = select(HYBRID, HYBRID_SELF, root=str(tmp_path), env="/nowhere")
    assert sel.mode == "rlimit"  # an explicit folder that does not work is not silently replaced by v1


def test_this_machine_mode_and_results_say_it():
    """Whichever mode this host gives, the results say it; under a cgroup the total of a program is bounded."""
    sel = host_selection()
    assert sel.mode in ("cgroup-v2", "cgroup-v1", "rlimit")
    if not probe_bwrap().ok:
        pytest.skip("bubblewrap unusable here")
    r = run("print('hi')", "python", limits=Limits(wall_s=5))
    assert r.status == "ok" and r.resource_control == sel.mode, (r.resource_control, sel)
    if os.geteuid() == 0 and Path("/sys/fs/cgroup/memory").is_dir() and os.access("/sys/fs/cgroup/memory", os.W_OK):
        assert sel.mode != "rlimit", sel.reason  # root on a writable v1 memory tree (this project's CI)
