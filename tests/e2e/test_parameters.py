"""Parameters through ``flowc run --param``: IncludeFile, defaults computed at run time, required
ones, and every type typed from command-line text (the corpus flow ``parameters`` covers
defaults)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import FLOWS, flowc_cli
from tests.harness import run_locally, snapshot

INCLUDING = '''
    import os
    from flowc import FlowSpec, IncludeFile, Parameter, step


    class IncludingFlow(FlowSpec):
        notes = IncludeFile("notes", help="a text file", required=True)
        blob = IncludeFile("blob", is_text=False, required=True)
        owner = Parameter("owner", default=lambda ctx: "owner-of-" + ctx.flow_name)
        home = Parameter("home", default=os.environ.get("PARAM_TEST_HOME", "unset"))

        @step
        def start(self):
            self.lines = self.notes.splitlines()
            self.size = len(self.blob)
            self.next(self.end)

        @step
        def end(self):
            self.seen = (self.lines, self.size, self.owner, self.home)
'''


def test_include_file_and_run_time_defaults(write_flow, tmp_path: Path, monkeypatch) -> None:
    path = write_flow("including_flow", INCLUDING)
    (tmp_path / "notes.txt").write_text("first\nsecond\n", encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    monkeypatch.setenv("PARAM_TEST_HOME", "from-the-environment")
    run_id = run_locally(path, tmp_path, params={"notes": tmp_path / "notes.txt",
                                                 "blob": tmp_path / "blob.bin"})
    snap = snapshot(tmp_path / "datastore", "IncludingFlow", run_id)
    assert snap["end"]["t"]["seen"] == (["first", "second"], 1024, "owner-of-IncludingFlow",
                                        "from-the-environment")
    # The file's content is captured once, as an artifact: the file can go away now.
    assert snap["start"]["t"]["notes"] == "first\nsecond\n"


def test_include_file_that_does_not_exist(write_flow, tmp_path: Path) -> None:
    path = write_flow("including_flow", INCLUDING)
    done = flowc_cli("run", str(path), "--param", "notes=missing.txt", "--param", "blob=nope.bin",
                     cwd=tmp_path)
    assert done.returncode == 1
    assert "IncludeFile 'notes': cannot read missing.txt" in done.stderr


def test_every_type_from_command_line_text(tmp_path: Path) -> None:
    done = flowc_cli("run", str(FLOWS / "parameters.py"), "--run-id-file", "id",
                     "--param", "who=cli", "--param", "count=-2", "--param", "ratio=1e-3",
                     "--param", "verbose=TRUE", "--param", 'options=[1, {"a": null}]',
                     "--param", "colors=x", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    snap = snapshot(tmp_path / ".flowc", "ParametersFlow", (tmp_path / "id").read_text())
    assert snap["start"]["t"]["seen"] == {
        "who": ["cli", "str"], "count": [-2, "int"], "ratio": [0.001, "float"],
        "verbose": [True, "bool"], "options": [[1, {"a": None}], "list"],
        "colors": [["x"], "list"]}
    assert snap["end"]["t"]["greeting"] == "hello cli x-2"


def test_bad_json_parameter_is_refused_before_running(tmp_path: Path) -> None:
    done = flowc_cli("run", str(FLOWS / "parameters.py"), "--param", "options={oops",
                     cwd=tmp_path)
    assert done.returncode == 1
    assert "parameter 'options': cannot read '{oops' as json" in done.stderr
    assert not (tmp_path / ".flowc").exists()
