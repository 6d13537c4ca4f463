"""The local datastore: layout, content addressing, atomic writes, clear errors."""

from __future__ import annotations

import hashlib
import os
import pickle

import pytest

from flowc.runtime_shim.datastore import (ArtifactRef, DatastoreError, LocalBackend, TaskKey,
                                          open_datastore)


def test_artifacts_are_content_addressed_pickles(tmp_path):
    store = open_datastore(str(tmp_path))
    first = store.save_artifact("F", "a", {"k": [1, 2, 3]})
    second = store.save_artifact("F", "b", {"k": [1, 2, 3]})
    assert first == second
    blob = tmp_path / "F" / "blobs" / first.sha[:2] / first.sha
    raw = blob.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == first.sha and len(raw) == first.size
    assert raw[:2] == b"\x80\x05"  # pickle protocol 5, no compression
    assert pickle.loads(raw) == {"k": [1, 2, 3]}
    assert store.load_artifact("F", "a", first) == {"k": [1, 2, 3]}
    assert [p.name for p in (tmp_path / "F" / "blobs").rglob("*") if p.is_file()] == [first.sha]


def test_missing_blob_names_the_artifact(tmp_path):
    store = open_datastore(str(tmp_path))
    with pytest.raises(DatastoreError, match=r"artifact 'model' is missing: blob 0+ not found"):
        store.load_artifact("F", "model", ArtifactRef("0" * 64, 10))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_blob_names_the_artifact(tmp_path, damage):
    store = open_datastore(str(tmp_path))
    ref = store.save_artifact("F", "weights", list(range(1000)))
    blob = tmp_path / "F" / "blobs" / ref.sha[:2] / ref.sha
    raw = bytearray(blob.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 2] ^= 0x01
    blob.write_bytes(bytes(raw))
    with pytest.raises(DatastoreError, match=r"artifact 'weights' is corrupt"):
        store.load_artifact("F", "weights", ref)


def test_full_disk_is_a_clear_error_and_leaves_no_temp_files(tmp_path, monkeypatch):
    store = open_datastore(str(tmp_path))
    opened: list[str] = []

    def open_dev_full(self, directory):  # the kernel's own ENOSPC
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, ".tmp-full")
        open(path, "wb").close()
        opened.append(path)
        return open("/dev/full", "wb", buffering=0), path

    monkeypatch.setattr(LocalBackend, "_open_temp", open_dev_full)
    with pytest.raises(DatastoreError, match=r"is full: no space left saving artifact 'big'"):
        store.save_artifact("F", "big", b"x" * (1 << 20))
    assert opened and not any(os.path.exists(p) for p in opened)
    with pytest.raises(DatastoreError, match="is full"):
        store.write_run("F", "r1", {"status": "running"})


def test_unpicklable_artifact_is_named(tmp_path):
    store = open_datastore(str(tmp_path))
    with pytest.raises(DatastoreError, match=r"artifact 'handle' cannot be saved: .*not picklable"):
        store.save_artifact("F", "handle", lambda: None)
    assert not list((tmp_path / "F" / "blobs").rglob(".tmp-*"))


def test_task_records_and_listings(tmp_path):
    store = open_datastore(str(tmp_path))
    done = TaskKey("F", "r1", "body", "t_0")
    pending = TaskKey("F", "r1", "body", "t_1")
    store.write_attempt(done, 0, {"status": "failed"})
    store.write_attempt(done, 1, {"status": "succeeded"})
    store.save_log(done, 1, "stdout", b"hello\n")
    store.write_done(done, {"attempt": 1, "artifacts": {}})
    store.write_attempt(pending, 0, {"status": "running"})
    store.write_run("F", "r1", {"status": "running"})
    assert store.list_runs("F") == ["r1"]
    assert store.list_steps("F", "r1") == ["body"]
    assert store.list_tasks("F", "r1", "body") == ["t_0", "t_1"]
    assert store.list_attempts(done) == [0, 1]
    assert [tid for tid, _ in store.iter_done_tasks("F", "r1", "body")] == ["t_0"]
    assert store.read_log(done, 1, "stdout") == b"hello\n"
    assert store.update_run("F", "r1", status="succeeded")["status"] == "succeeded"
    assert (tmp_path / "F" / "runs" / "r1" / "body" / "t_0" / "DONE.json").is_file()
    assert store.list_flows() == ["F"]


def test_open_datastore_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert open_datastore().root == str(tmp_path / ".flowc")
    monkeypatch.setenv("FLOWC_DATASTORE", str(tmp_path / "elsewhere"))
    assert open_datastore().root == str(tmp_path / "elsewhere")


def test_large_artifact_streams_through_the_pipelined_hash(tmp_path):
    store = open_datastore(str(tmp_path))
    value = os.urandom(1 << 20) * 20 + b"tail"  # several 8 MiB chunks plus a remainder
    ref = store.save_artifact("F", "big", value)
    blob = tmp_path / "F" / "blobs" / ref.sha[:2] / ref.sha
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == ref.sha
    assert store.load_artifact("F", "big", ref) == value
    with open(blob, "r+b") as handle:  # damage the middle of a large, pipelined read
        handle.seek(ref.size // 2)
        byte = handle.read(1)
        handle.seek(ref.size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(DatastoreError, match="artifact 'big' is corrupt"):
        store.load_artifact("F", "big", ref)


def test_gzip_compression_is_an_option_and_reads_mix(tmp_path, monkeypatch):
    plain = open_datastore(str(tmp_path))
    value = {"text": "abc" * 100_000}
    plain_ref = plain.save_artifact("F", "v", value)
    monkeypatch.setenv("FLOWC_DATASTORE_COMPRESSION", "gzip:6")
    packed = open_datastore(str(tmp_path))
    ref = packed.save_artifact("F", "v", value)
    assert ref.encoding == "pickle+gzip" and ref.size < plain_ref.size / 10
    assert ref.to_json()["encoding"] == "pickle+gzip" and "encoding" not in plain_ref.to_json()
    assert ArtifactRef.from_json(ref.to_json()) == ref
    blob = tmp_path / "F" / "blobs" / ref.sha[:2] / ref.sha
    assert blob.read_bytes()[:2] == b"\x1f\x8b"
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == ref.sha
    assert plain.load_artifact("F", "v", ref) == value and packed.load_artifact("F", "v", plain_ref) == value
    assert packed.save_artifact("F", "again", value) == ref  # deterministic (mtime=0)
    with open(blob, "r+b") as handle:
        handle.seek(ref.size // 2)
        handle.write(b"\x00\x00\x00\x00")
    with pytest.raises(DatastoreError, match="artifact 'v' is corrupt"):
        packed.load_artifact("F", "v", ref)
    monkeypatch.setenv("FLOWC_DATASTORE_COMPRESSION", "zstd")
    with pytest.raises(ValueError, match="unknown datastore compression"):
        open_datastore(str(tmp_path))
