"""Issue 13 item 1: a tampered datastore runs no code: blobs are verified before unpickling,
and every sha a record names is checked before it becomes a path."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from flowc.client import Run
from flowc.runtime_shim.datastore import ArtifactRef, DatastoreError, open_datastore
from tests.runtime_shim.test_s3 import bucket, s3_endpoint, s3_env  # noqa: F401 - fixtures
from tests.security.conftest import assert_one_line_error, cli, edit_done, trap_bytes


def _blob(root, flow, sha):
    return root / flow / "blobs" / sha[:2] / sha


@pytest.mark.parametrize("compressed", [False, True])
def test_a_replaced_blob_is_refused_before_it_is_unpickled(tmp_path, monkeypatch, compressed):
    if compressed:
        monkeypatch.setenv("FLOWC_DATASTORE_COMPRESSION", "gzip")
    store = open_datastore(str(tmp_path / "ds"))
    ref = store.save_artifact("F", "model", {"weights": [1, 2, 3]})
    marker = tmp_path / "pwned"
    payload = trap_bytes(marker)
    _blob(tmp_path / "ds", "F", ref.sha).write_bytes(gzip.compress(payload) if compressed else payload)
    with pytest.raises(DatastoreError, match=r"artifact 'model' is corrupt: .* does not match its sha256"):
        store.load_artifact("F", "model", ref)
    assert not marker.exists(), "the replaced blob was unpickled before its hash was checked"


def test_a_blob_that_matches_its_ref_still_loads(tmp_path):
    store = open_datastore(str(tmp_path))
    ref = store.save_artifact("F", "v", list(range(10_000)))
    assert store.load_artifact("F", "v", ref) == list(range(10_000))


@pytest.mark.parametrize("sha", ["../../../../x.pkl", "/etc/passwd", "AB" * 32, "0" * 63, "0" * 64 + "\n"])
def test_a_ref_naming_anything_but_a_sha256_is_refused(sha):
    with pytest.raises(ValueError, match="not a sha256"):
        ArtifactRef.from_json({"sha": sha, "size": 1})
    with pytest.raises(ValueError, match="not a sha256"):
        open_datastore("/nonexistent").load_artifact("F", "x", ArtifactRef(sha, 1))


def test_show_does_not_unpickle_a_file_a_done_record_points_at(finished_run, tmp_path):
    root, _ = finished_run
    marker = tmp_path / "pwned"
    evil = tmp_path / "x.pkl"
    evil.write_bytes(trap_bytes(marker))
    # What the issue found: a sha made of dots and slashes reaching a file outside the blobs.
    relative = "../../../../../" + str(evil.relative_to(tmp_path))
    edit_done(root, "end", lambda d: {**d, "artifacts": {**d["artifacts"],
                                                         "y": {"sha": relative, "size": 1}}})
    code, output, unexpected = cli("show", "SecFlow/r1", "--datastore", str(root))
    assert not marker.exists()
    assert_one_line_error(code, output, unexpected)
    assert "not a sha256" in output and "DONE.json" in output


def test_a_blob_swapped_for_another_valid_blob_is_refused(finished_run):
    """Hash-named files are checked against their name, not just for being hex."""
    root, _ = finished_run
    done = Run("SecFlow/r1", str(root))["end"].task
    x, y = done["x"].ref, done["y"].ref
    _blob(root, "SecFlow", y.sha).write_bytes(_blob(root, "SecFlow", x.sha).read_bytes())
    assert hashlib.sha256(_blob(root, "SecFlow", y.sha).read_bytes()).hexdigest() != y.sha
    with pytest.raises(DatastoreError, match="does not match its sha256"):
        done["y"].data


def test_a_replaced_s3_blob_is_refused_before_it_is_unpickled(tmp_path, bucket):
    import boto3

    from flowc.runtime_shim.datastore import S3Datastore

    store = S3Datastore(f"s3://{bucket}/root")
    ref = store.save_artifact("F", "model", [1, 2, 3])
    marker = tmp_path / "pwned"
    boto3.client("s3").put_object(Bucket=bucket, Key=f"root/F/blobs/{ref.sha[:2]}/{ref.sha}",
                                  Body=trap_bytes(marker))
    with pytest.raises(DatastoreError, match="does not match its sha256"):
        store.load_artifact("F", "model", ref)
    assert not marker.exists()
