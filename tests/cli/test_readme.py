"""The README's promises: its quickstart flow compiles for every target and runs, and its
set-up command names files that exist."""

from __future__ import annotations

import re
import subprocess
import sys

from flowc.client import Run
from tests.conftest import ROOT
from tests.harness.artifacts import run_locally

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quickstart_flow_runs_and_compiles_for_every_target(tmp_path):
    source = re.search(r"```python\n# flow.py\n(.*?)```", README, re.S).group(1)
    flow = tmp_path / "flow.py"
    flow.write_text(source)
    run_id = run_locally(flow, tmp_path, params={"name": "flowc"})
    run = Run(f"HelloFlow/{run_id}", datastore=str(tmp_path / "datastore"))
    assert run.successful
    assert run["join"].task.data.greeting == "FLOWC"
    assert re.search(r"flowc compile flow\.py --target argo --datastore-root s3://\S+ ", README)
    result = subprocess.run([sys.executable, "-m", "flowc.cli", "compile", str(flow), "--target", "all",
                             "--datastore-root", "s3://my-bucket/flowc", "--output-dir", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*"))
    assert written[:2] + written[3:] == ["airflow/flow.py", "argo/flow.yaml", "sfn/flow.json"]
    assert re.fullmatch(r"flowc-code/flow-[0-9a-f]{64}\.tar\.gz", written[2])  # the code package they name
    assert "s3://my-bucket/flowc/flowc-code/flow-" in result.stderr  # where the tasks will fetch it


def test_setup_command_compiles_and_runs_the_bundled_example():
    setup = re.search(r"```sh\n(python3 -m venv .*?)\n```", README, re.S).group(1)
    for path in re.findall(r"examples/\S+\.py", setup):
        assert (ROOT / path).is_file(), path
    assert "flowc compile examples/" in setup and "flowc run examples/" in setup
    assert "bash .ci/run" in README and ".venv/bin/python -m pytest -q" in (ROOT / ".ci" / "run").read_text()


def test_programmatic_api_is_reachable_from_the_package_lazily():
    code = ("import sys, flowc; assert 'flowc.api' not in sys.modules; "
            "text = flowc.compile('examples/train.py', 'argo'); "
            "assert text.startswith('---') and flowc.Runner.__name__ == 'Runner' "
            "and flowc.Deployer.__name__ == 'Deployer'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
