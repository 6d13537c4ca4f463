"""Bring the corpus's flows from repositories other than Netflix/metaflow into tests/corpus.

    python -m tests.corpus.materialize                 # from GitHub, at the pinned commits
    python -m tests.corpus.materialize --mirrors DIR   # from local git mirrors DIR/<owner>+<name>

``external.json`` pins, per repository, the commit, the licence, the corpus directory, the flow
files, every file copied beside them (with its SHA-256) and the repository's symbolic links. The copies are not committed
(tests/corpus/.gitignore): they are other projects' code, fetched from where they are published
and checked byte for byte. The corpus tests compile them when they are present.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
EXTERNAL: dict[str, dict] = json.loads((CORPUS / "external.json").read_text(encoding="utf-8"))


def external_flows() -> dict[str, str]:
    """Corpus name of every external flow -> its repository."""
    return {f"{entry['dir']}/{flow}": repo for repo, entry in EXTERNAL.items() for flow in entry["flows"]}


def missing() -> list[str]:
    """External files and links absent from (or different in) tests/corpus."""
    files = [f"{entry['dir']}/{path}" for entry in EXTERNAL.values() for path, digest in entry["files"].items()
             if not _matches(CORPUS / entry["dir"] / path, digest)]
    links = [f"{entry['dir']}/{path}" for entry in EXTERNAL.values() for path, to in entry["links"].items()
             if not _links(CORPUS / entry["dir"] / path, to)]
    return files + links


def _links(target: Path, to: str) -> bool:
    return target.is_symlink() and str(target.readlink()) == to


def _matches(target: Path, digest: str) -> bool:
    return target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest


def _read(repo: str, commit: str, path: str, mirrors: Path | None) -> bytes:
    """The file's bytes at the pinned commit, from a local mirror or from GitHub."""
    if mirrors is not None:
        git_dir = mirrors / repo.replace("/", "+") / "repo"
        return subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
                              check=True, capture_output=True).stdout
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{urllib.request.quote(path)}"
    with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 (a fixed https host)
        return answer.read()


def materialize(mirrors: Path | None) -> int:
    """Copy every missing file and link; refuse a file whose bytes differ from the pinned digest."""
    copied = 0
    for repo, entry in EXTERNAL.items():
        for path, digest in entry["files"].items():
            target = CORPUS / entry["dir"] / path
            if _matches(target, digest):
                continue
            data = _read(repo, entry["commit"], path, mirrors)
            if hashlib.sha256(data).hexdigest() != digest:
                raise SystemExit(f"{repo}@{entry['commit'][:12]}:{path}: content differs from external.json")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            copied += 1
        for path, to in entry["links"].items():
            target = CORPUS / entry["dir"] / path
            if not _links(target, to):
                target.unlink(missing_ok=True)
                target.symlink_to(to)
                copied += 1
    return copied


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.corpus.materialize", description=__doc__.split("\n")[0])
    parser.add_argument("--mirrors", type=Path, help="a directory of git mirrors named <owner>+<name>/repo")
    args = parser.parse_args(argv)
    print(f"copied {materialize(args.mirrors)} files; {len(missing())} missing")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
