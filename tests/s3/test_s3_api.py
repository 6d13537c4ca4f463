"""``S3`` (Metaflow's data-tools client) against moto's S3 server and a local directory: every
method, missing keys, ranges, many objects, the URL rules and the temporary directory."""

from __future__ import annotations

import io
import os

import boto3
import pytest

from flowc.s3 import (S3, MetaflowS3NotFound, MetaflowS3URLException, S3GetObject, S3PutObject)


def _tmp_files(s3: S3) -> list[str]:
    return os.listdir(s3._tmpdir)


def test_put_get_info_roundtrip(root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        url = s3.put("a/x.txt", "hello", content_type="text/plain", metadata={"owner": "ana"})
        assert url == (f"{root}/a/x.txt" if root.startswith("s3://") else os.path.join(root, "a", "x.txt"))
        s3.put("a/raw.bin", b"\x00\x01\x02")
        s3.put("a/stream.bin", io.BytesIO(b"streamed"))
        obj = s3.get("a/x.txt")
        assert (obj.key, obj.url, obj.text, obj.blob, obj.size, obj.exists, obj.downloaded) == (
            "a/x.txt", url, "hello", b"hello", 5, True, True)
        assert obj.metadata == {"owner": "ana"} and obj.content_type == "text/plain"
        assert tuple(obj.range_info) == (5, 0, 5) and obj.has_info and obj.prefix == s3._s3root
        assert os.path.dirname(obj.path) == s3._tmpdir
        assert s3.get("a/raw.bin").blob == b"\x00\x01\x02"
        assert s3.get("a/stream.bin").blob == b"streamed"
        info = s3.info("a/x.txt")
        assert (info.size, info.downloaded, info.path, info.metadata) == (5, False, None, {"owner": "ana"})
        assert info.content_type == "text/plain" and info.last_modified
        bare = s3.get("a/x.txt", return_info=False)
        assert bare.blob == b"hello" and bare.metadata is None and not bare.has_info
        assert s3.get("a/raw.bin").content_type == "binary/octet-stream"  # S3's default, locally too
        tmpdir = s3._tmpdir
        assert _tmp_files(s3)
    assert not os.path.exists(tmpdir)  # the context manager removed every download


def test_missing_keys(root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        s3.put("here", "x")
        with pytest.raises(MetaflowS3NotFound):
            s3.get("nope")
        with pytest.raises(MetaflowS3NotFound):
            s3.info("nope")
        with pytest.raises(MetaflowS3NotFound):
            s3.get_many(["here", "nope"])
        missing = s3.get("nope", return_missing=True)
        assert (missing.exists, missing.size, missing.blob, missing.path) == (False, None, None, None)
        got = s3.get_many(["here", "nope"], return_missing=True)
        assert [o.exists for o in got] == [True, False]
        assert [o.exists for o in s3.info_many(["nope", "here"], return_missing=True)] == [False, True]
        with pytest.raises(MetaflowS3NotFound):
            s3.put_files([("k", str(tmp_path / "no-such-file"))])
        assert len(_tmp_files(s3)) == 2  # the two gets of "here"; no file for a missing key


def test_ranges(root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        s3.put("digits", b"0123456789")
        middle = s3.get(S3GetObject("digits", 2, 3))
        assert middle.blob == b"234" and tuple(middle.range_info) == (10, 2, 3) and middle.size == 3
        assert s3.get(S3GetObject("digits", 7)).blob == b"789"
        tail = s3.get(S3GetObject("digits", -4))
        assert tail.blob == b"6789" and tuple(tail.range_info) == (10, 6, 4)
        assert s3.get(S3GetObject("digits", 8, 100)).blob == b"89"
        many = s3.get_many([S3GetObject("digits", 0, 1), S3GetObject("digits", 9, 1), "digits"])
        assert [o.blob for o in many] == [b"0", b"9", b"0123456789"]


def test_many_small_objects_in_order(root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        pairs = ((f"many/{i:04d}", f"value {i}") for i in range(1000))  # a generator: pulled lazily
        urls = s3.put_many(pairs)
        assert [key for key, _ in urls] == [f"many/{i:04d}" for i in range(1000)]
        got = s3.get_many([f"many/{i:04d}" for i in range(1000)])
        assert [o.text for o in got] == [f"value {i}" for i in range(1000)]
        assert len(s3.list_recursive(["many"])) == 1000
        assert len(set(_tmp_files(s3))) == 1000


def test_listing(root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        s3.put_many([("a/0.txt", "0"), ("a/b/1.txt", "1"), ("a/b/2.txt", "2"), ("a/c/3.txt", "3"),
                     ("f/4.txt", "4")])
        top = s3.list_paths()
        assert [(o.key, o.exists) for o in top] == [("a", False), ("f", False)]
        under_a = s3.list_paths(["a"])  # keys relative to the key listed, as in Metaflow
        assert sorted((o.key, o.exists, o.size) for o in under_a) == [
            ("0.txt", True, 1), ("b", False, None), ("c", False, None)]
        leaves = s3.list_recursive(["a"])
        assert sorted(o.key for o in leaves) == ["0.txt", "b/1.txt", "b/2.txt", "c/3.txt"]
        assert all(o.exists and not o.downloaded and not o.has_info for o in leaves)
        assert [o.url for o in s3.list_recursive(["a/0.txt"])] == [s3._url("a/0.txt")]
        assert sorted(o.key for o in s3.list_recursive()) == ["a/0.txt", "a/b/1.txt", "a/b/2.txt",
                                                              "a/c/3.txt", "f/4.txt"]
        assert sorted((o.key, o.text) for o in s3.get_recursive(["a/b"])) == [("1.txt", "1"), ("2.txt", "2")]
        assert sorted(o.key for o in s3.get_all()) == ["a/0.txt", "a/b/1.txt", "a/b/2.txt", "a/c/3.txt",
                                                       "f/4.txt"]
        assert len(s3.get_all()) == 5


def test_put_files_get_files_overwrite(root, tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"file body")
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        done = s3.put_files([("f/one", str(source)),
                             S3PutObject("f/two", path=str(source), content_type="application/x-test",
                                         metadata={"k": "v"})])
        assert [key for key, _ in done] == ["f/one", "f/two"]
        two = s3.info("f/two")
        assert two.content_type == "application/x-test" and two.metadata == {"k": "v"}
        s3.put("f/one", "changed", overwrite=False)
        assert s3.get("f/one").blob == b"file body"
        s3.put_many([S3PutObject("f/one", value="changed")], overwrite=True)
        assert s3.get("f/one").blob == b"changed"
        target = tmp_path / "out" / "copy.bin"
        fetched = s3.get_files([("f/two", str(target))])
        assert target.read_bytes() == b"file body" and fetched[0].path == str(target)
    assert target.exists()  # get_files writes where asked; closing keeps it


def test_url_rules(root, tmp_path):
    with S3(tmproot=str(tmp_path)) as bare:
        with pytest.raises(MetaflowS3URLException):
            bare.get("relative/key")
        with pytest.raises(MetaflowS3URLException):
            bare.get_all()
    with S3(s3root=root, tmproot=str(tmp_path)) as rooted:
        with pytest.raises(MetaflowS3URLException):
            rooted.get("s3://other/key")


def test_full_urls_without_a_root(bucket, tmp_path):
    with S3(tmproot=str(tmp_path)) as s3:
        url = s3.put(f"s3://{bucket}/k/v", "value")
        obj = s3.get(url)
        assert obj.key == url and obj.text == "value"
        raw = boto3.client("s3").head_object(Bucket=bucket, Key="k/v")
        assert raw["ContentLength"] == 5
    with S3(bucket=bucket, prefix="k", tmproot=str(tmp_path)) as s3:
        assert s3.get("v").text == "value"


def test_metadata_is_stored_the_way_metaflow_stores_it(bucket, tmp_path):
    """User metadata lives as JSON under ``metaflow-user-attributes``, so Metaflow's S3 reads
    what flowc's wrote and the other way round."""
    with S3(s3root=f"s3://{bucket}", tmproot=str(tmp_path)) as s3:
        s3.put("m", "x", metadata={"a": "1"})
    head = boto3.client("s3").head_object(Bucket=bucket, Key="m")
    assert head["Metadata"] == {"metaflow-user-attributes": '{"a": "1"}'}


@pytest.mark.parametrize("status, code, expected", [
    (404, "NoSuchKey", "MetaflowS3NotFound"), (404, "NoSuchBucket", "MetaflowS3NotFound"),
    (403, "AccessDenied", "MetaflowS3AccessDenied"), (416, "InvalidRange", "MetaflowS3InvalidRange"),
    (400, "BadDigest", "MetaflowS3Exception")])
def test_s3_errors_get_metaflows_names(status, code, expected):
    from botocore.exceptions import ClientError

    from flowc.s3 import _s3_error

    error = ClientError({"Error": {"Code": code, "Message": "m"},
                         "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")
    mapped = _s3_error(error, "s3://b/k", "get s3://b/k")
    assert type(mapped).__name__ == expected and "s3://b/k" in str(mapped)


def test_access_denied_from_the_server(bucket, tmp_path):
    """A bucket policy that denies reads: the error is MetaflowS3AccessDenied, not a traceback."""
    import json

    from flowc.s3 import MetaflowS3AccessDenied

    client = boto3.client("s3")
    client.put_object(Bucket=bucket, Key="secret", Body=b"x")
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    with S3(s3root=f"s3://{bucket}", tmproot=str(tmp_path)) as s3:
        try:
            s3.get("secret")
        except MetaflowS3AccessDenied:
            return
    pytest.skip("this moto server does not enforce bucket policies")


def test_run_root_and_its_overrides(tmp_path, monkeypatch):
    from flowc.s3 import _override

    monkeypatch.setenv("METAFLOW_DATATOOLS_S3ROOT", "s3://data-bucket/tools")

    class FakeRun:
        pathspec = "SomeFlow/42"

    with S3(run=FakeRun(), tmproot=str(tmp_path)) as s3:
        assert s3._s3root == "s3://data-bucket/tools/SomeFlow/42"
    with S3(run=FakeRun(), bucket="other", tmproot=str(tmp_path)) as s3:
        assert s3._s3root == "s3://other/tools/SomeFlow/42"
    with S3(run=FakeRun(), prefix="elsewhere/x", tmproot=str(tmp_path)) as s3:
        assert s3._s3root == "s3://data-bucket/elsewhere/x/SomeFlow/42"
    with pytest.raises(MetaflowS3URLException):
        _override("/local/data", None, "p")
    assert _override("/local/data", "b", None) == "s3://b/"
    with pytest.raises(MetaflowS3URLException):
        S3(run=object(), tmproot=str(tmp_path))  # not running, not a Run
