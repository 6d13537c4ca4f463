"""Issue 13 item 6 (and issue 16's sibling package): a code package holds the project and only
the project, builds the same twice, and the container-side cache runs only what it verified."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from flowc.package import PackageError, build_package
from flowc.runtime_shim import code_package

FLOW = "from metaflow import FlowSpec, step\n\nclass F(FlowSpec):\n    pass\n"


def _project(root: Path, flow: str = FLOW) -> Path:
    root.mkdir(parents=True)
    (root / "flow.py").write_text(flow)
    (root / "helpers.py").write_text("X = 1\n")
    return root / "flow.py"


def _names(path: Path) -> list[str]:
    """The project's files in an archive (flowc's runtime, under flowc/, left aside)."""
    with tarfile.open(path) as tar:
        return sorted(n for n in tar.getnames() if not n.startswith("flowc/"))


def test_a_file_link_to_outside_the_project_is_refused(tmp_path):
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key=abc\n")
    flow = _project(tmp_path / "p")
    (flow.parent / "config.ini").symlink_to(secret)
    with pytest.raises(PackageError, match=r"config.ini is a symbolic link to .*credentials, outside"):
        build_package(flow, tmp_path / "dist")
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


def test_a_dangling_link_is_an_error_not_a_traceback(tmp_path):
    flow = _project(tmp_path / "p")
    (flow.parent / "gone.txt").symlink_to(tmp_path / "nowhere")
    with pytest.raises(PackageError, match="gone.txt is a symbolic link to nothing"):
        build_package(flow, tmp_path / "dist")


def test_a_file_link_inside_the_project_is_packaged_as_its_content(tmp_path):
    flow = _project(tmp_path / "p")
    (flow.parent / "alias.py").symlink_to(flow.parent / "helpers.py")
    built = build_package(flow, tmp_path / "dist")
    with tarfile.open(built.path) as tar:
        member = tar.getmember("alias.py")
        assert member.isfile() and tar.extractfile(member).read() == b"X = 1\n"


def test_packaging_twice_into_the_default_dist_gives_the_same_archive(tmp_path):
    flow = _project(tmp_path / "p")  # no .gitignore: dist/ is left out all the same

    def package() -> str:
        result = subprocess.run([sys.executable, "-m", "flowc.cli", "package", "flow.py"],
                                cwd=flow.parent, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    first, second = package(), package()
    assert first == second
    assert _names(flow.parent / first) == ["flow.py", "helpers.py"]


def test_a_sibling_package_the_flow_imports_is_included(tmp_path):
    project = tmp_path / "proj"
    (project / "mylib").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (project / "mylib" / "__init__.py").write_text("VALUE = 7\n")
    (project / "mylib" / "__pycache__").mkdir()
    (project / "mylib" / "__pycache__" / "x.pyc").write_bytes(b"")
    (project / "unused").mkdir()
    (project / "unused" / "__init__.py").write_text("")
    flow = _project(project / "flows", "import mylib\nfrom mylib import VALUE\n" + FLOW)
    built = build_package(flow, tmp_path / "dist")
    assert _names(built.path) == ["flow.py", "helpers.py", "mylib/__init__.py"]
    assert built.siblings == ("mylib",)


def _archive(tmp_path: Path) -> tuple[bytes, str]:
    built = build_package(_project(tmp_path / "src"), tmp_path / "dist")
    return built.path.read_bytes(), built.sha256


def test_a_precreated_extraction_is_checked_against_the_archive(tmp_path):
    data, sha = _archive(tmp_path)
    cache = tmp_path / "cache"
    planted = cache / sha
    planted.mkdir(parents=True)
    cache.chmod(0o700)
    (planted / "flow.py").write_text("import os; os.system('echo pwned')\n")
    (planted / code_package.READY_MARKER).write_text(sha)
    target = code_package.extract(data, sha, cache)
    assert (target / "flow.py").read_text() == FLOW
    assert sorted(p.name for p in target.iterdir()) == [code_package.READY_MARKER, "flow.py", "flowc", "helpers.py"]


def test_a_cache_someone_else_can_write_is_refused(tmp_path):
    data, sha = _archive(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    with pytest.raises(code_package.CodePackageError, match="not a directory owned by this user"):
        code_package.extract(data, sha, cache)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_an_extraction_another_user_owns_is_refused(tmp_path):
    data, sha = _archive(tmp_path)
    cache = tmp_path / "cache"
    planted = cache / sha
    planted.mkdir(parents=True)
    cache.chmod(0o700)
    (planted / code_package.READY_MARKER).write_text(sha)
    os.chown(planted, 4242, 4242)
    with pytest.raises(code_package.CodePackageError, match="not a directory owned by this user"):
        code_package.extract(data, sha, cache)
