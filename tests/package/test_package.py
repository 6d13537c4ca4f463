"""Code packages: reproducible archives and the container-side hash check."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from flowc.package import PackageError, build_package
from flowc.runtime_shim import code_package


def make_project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "flow.py").write_text("from flowc import FlowSpec\n")
    (root / "helpers.py").write_text("X = 1\n")
    (root / "pkg" / "mod.py").write_text("Y = 2\n")
    (root / "data.csv").write_text("a,b\n")
    (root / "secret.env").write_text("TOKEN=1\n")
    (root / ".gitignore").write_text("*.env\nbuild/\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "flow.cpython-311.pyc").write_bytes(b"\0")
    (root / ".hidden").write_text("")
    return root / "flow.py"


def members(path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(path, "r:gz") as tar:
        return tar.getmembers()


def test_building_twice_gives_identical_bytes_even_after_touching_files(tmp_path):
    flow = make_project(tmp_path / "src")
    first = build_package(flow, tmp_path / "a")
    later = time.time() + 1000
    for p in (tmp_path / "src").rglob("*"):
        os.utime(p, (later, later))
    second = build_package(flow, tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.path.name == f"flow-{first.sha256}.tar.gz"
    assert hashlib.sha256(first.path.read_bytes()).hexdigest() == first.sha256


def test_gitignore_hidden_files_and_caches_are_left_out(tmp_path):
    built = build_package(make_project(tmp_path / "src"), tmp_path / "dist")
    assert built.files == ("data.csv", "flow.py", "helpers.py", "pkg/mod.py")
    infos = members(built.path)
    assert [m.name for m in infos] == sorted(built.files + built.runtime)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.mode) for m in infos} == {(315532800, 0, 0, "", 0o644)}


def test_include_and_exclude_patterns(tmp_path):
    flow = make_project(tmp_path / "src")
    assert build_package(flow, tmp_path / "d1", include=["*.py"]).files == ("flow.py", "helpers.py", "pkg/mod.py")
    assert build_package(flow, tmp_path / "d2", exclude=["pkg/"]).files == ("data.csv", "flow.py", "helpers.py")
    with pytest.raises(PackageError, match="flow.py itself is excluded"):
        build_package(flow, tmp_path / "d3", exclude=["flow.py"])


def test_the_package_carries_flowcs_runtime_and_nothing_of_the_compiler(tmp_path):
    runtime = set(build_package(make_project(tmp_path / "src"), tmp_path / "dist").runtime)
    assert {"flowc/__init__.py", "flowc/runtime_shim/__main__.py", "flowc/runtime_shim/task.py",
            "flowc/runtime_shim/code_package.py", "flowc/client.py", "flowc/s3.py",
            "flowc/cards/__init__.py", "flowc/compiler/ir.py"} <= runtime
    compile_side = {"flowc/api.py", "flowc/cli.py", "flowc/build.py", "flowc/compiler/frontend.py",
                    "flowc/targets/__init__.py", "flowc/local/__init__.py", "flowc/deploy/__init__.py"}
    assert runtime.isdisjoint(compile_side)
    assert build_package(make_project(tmp_path / "other"), tmp_path / "d", runtime=False).runtime == ()


def test_a_project_module_named_flowc_cannot_share_the_package_with_the_runtime(tmp_path):
    flow = make_project(tmp_path / "src")
    (tmp_path / "src" / "flowc.py").write_text("X = 1\n")
    with pytest.raises(PackageError, match="flowc.py: the package's flowc/ holds flowc's runtime"):
        build_package(flow, tmp_path / "dist")
    assert "flowc.py" in build_package(flow, tmp_path / "d", runtime=False).files


def test_executable_bit_is_kept_and_normalised(tmp_path):
    flow = make_project(tmp_path / "src")
    script = tmp_path / "src" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o700)
    modes = {m.name: m.mode for m in members(build_package(flow, tmp_path / "d").path)}
    assert modes["run.sh"] == 0o755 and modes["flow.py"] == 0o644


def test_bootstrap_verifies_the_hash_before_extracting(tmp_path):
    built = build_package(make_project(tmp_path / "src"), tmp_path / "dist")
    data = built.path.read_bytes()
    code_package.verify(data, built.sha256, str(built.path))
    tampered = tmp_path / "dist2" / built.path.name
    tampered.parent.mkdir()
    tampered.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    result = subprocess.run(
        [sys.executable, "-m", "flowc.runtime_shim.code_package", "--package", str(tampered), "--", "--help"],
        capture_output=True, text=True, env={**os.environ, "FLOWC_CODE_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 2
    assert "refusing to run it" in result.stderr
    assert not (tmp_path / "cache" / built.sha256).exists()


def bootstrap(url: str, *shim_args: str, python: str = sys.executable, cache: Path, cwd: Path):
    """Run the bootstrap exactly as specs do: its code in FLOWC_BOOTSTRAP, started by ``-c``."""
    from flowc.targets.common import BOOTSTRAP_COMMAND, bootstrap_source

    env = {"PATH": os.environ["PATH"], "FLOWC_BOOTSTRAP": bootstrap_source(), "FLOWC_CODE_CACHE": str(cache)}
    return subprocess.run([python, "-c", BOOTSTRAP_COMMAND, url, *shim_args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def test_the_spec_bootstrap_refuses_a_tampered_or_misnamed_archive_before_running_anything(tmp_path):
    built = build_package(make_project(tmp_path / "src"), tmp_path / "dist")
    data = built.path.read_bytes()
    tampered = tmp_path / "dist2" / built.path.name
    tampered.parent.mkdir()
    tampered.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    result = bootstrap(str(tampered), "--help", cache=tmp_path / "cache", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"flowc: error: code package {tampered} does not "
                                                     "match the sha256 in its name; refusing to run it\n")
    assert not (tmp_path / "cache").exists()
    misnamed = bootstrap(str(tmp_path / "flow.tar.gz"), cache=tmp_path / "cache", cwd=tmp_path)
    assert misnamed.stderr.startswith("flowc: error: code package") and "<stem>-<sha256>" in misnamed.stderr
    missing = bootstrap(f"file://{tmp_path}/flow-{'0' * 64}.tar.gz", cache=tmp_path / "cache", cwd=tmp_path)
    assert "cannot read code package" in missing.stderr and "No such file" in missing.stderr


def test_the_spec_bootstrap_runs_the_archives_runtime_and_falls_back_to_the_images(tmp_path):
    """With the runtime inside, the shim that runs is the archive's (even where flowc is
    installed); an archive built --no-runtime runs the image's flowc."""
    flow = make_project(tmp_path / "src")
    with_runtime = build_package(flow, tmp_path / "a")
    ran = bootstrap(str(with_runtime.path), "--help", cache=tmp_path / "cache", cwd=tmp_path)
    assert ran.returncode == 0 and "--flow-file" in ran.stdout, ran.stderr
    probe = "import flowc.runtime_shim as m; print(m.__file__)"
    extracted = tmp_path / "cache" / with_runtime.sha256
    here = subprocess.run([sys.executable, "-c", probe], cwd=extracted, capture_output=True, text=True)
    assert Path(here.stdout.strip()).is_relative_to(extracted)  # the working directory wins
    bare = build_package(flow, tmp_path / "b", runtime=False)
    image = bootstrap(str(bare.path), "--help", cache=tmp_path / "cache", cwd=tmp_path)
    assert image.returncode == 0 and "--flow-file" in image.stdout, image.stderr


def test_bootstrap_extracts_once_and_rejects_badly_named_packages(tmp_path):
    built = build_package(make_project(tmp_path / "src"), tmp_path / "dist")
    target = code_package.extract(built.path.read_bytes(), built.sha256, tmp_path / "cache")
    assert (target / "pkg" / "mod.py").read_text() == "Y = 2\n"
    marker = (target / code_package.READY_MARKER).stat().st_ino
    assert code_package.extract(built.path.read_bytes(), built.sha256, tmp_path / "cache") == target
    assert (target / code_package.READY_MARKER).stat().st_ino == marker  # reused, not redone
    with pytest.raises(code_package.CodePackageError, match="flowc package"):
        code_package.expected_sha256("s3://bucket/flow.tar.gz")


def test_cli_package_prints_the_archive_path(tmp_path):
    flow = make_project(tmp_path / "src")
    result = subprocess.run([sys.executable, "-m", "flowc.cli", "package", str(flow), "-d", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.parent == tmp_path / "out" and path.exists()
