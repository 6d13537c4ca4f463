"""The same S3 calls, printed: run with Metaflow's S3 and with flowc's, against the same server,
under different roots, they must print the same lines. Usage: python s3_script.py S3ROOT."""
import sys

from metaflow import S3
from metaflow.plugins.datatools.s3 import (MetaflowS3NotFound, MetaflowS3URLException, S3GetObject,
                                           S3PutObject)

root = sys.argv[1]


def show(label, obj):
    print(label, obj.key, obj.url[len(root):], obj.exists, obj.downloaded, obj.size,
          obj.text if obj.downloaded else None, obj.metadata, obj.content_type,
          tuple(obj.range_info) if obj.range_info else None, obj.has_info)


with S3(s3root=root) as s3:
    print("put", s3.put("a/x.txt", "hello", content_type="text/plain", metadata={"who": "ana"})[len(root):])
    print("put_many", [(k, u[len(root):]) for k, u in s3.put_many([("a/b/1", "one"), ("a/b/2", b"two"),
                                                                   S3PutObject("c/3", value="three")])])
    show("get", s3.get("a/x.txt"))
    show("get no info", s3.get("a/x.txt", return_info=False))
    show("info", s3.info("a/x.txt"))
    show("range", s3.get(S3GetObject("a/x.txt", 1, 3)))
    show("from", s3.get(S3GetObject("a/x.txt", 3, None)))
    show("missing", s3.get("nope", return_missing=True))
    show("info missing", s3.info("nope", return_missing=True))
    for label, call in (("get", lambda: s3.get("nope")), ("info", lambda: s3.info("nope")),
                        ("url", lambda: s3.get("s3://elsewhere/x"))):
        try:
            call()
        except MetaflowS3NotFound:
            print(label, "raises MetaflowS3NotFound")
        except MetaflowS3URLException:
            print(label, "raises MetaflowS3URLException")
    for obj in sorted(s3.list_paths(), key=lambda o: o.key):
        show("list_paths", obj)
    for obj in sorted(s3.list_paths(["a"]), key=lambda o: o.key):
        show("list_paths a", obj)
    for obj in sorted(s3.list_recursive(["a"]), key=lambda o: o.key):
        show("list_recursive a", obj)
    for obj in sorted(s3.get_recursive(["a/b"]), key=lambda o: o.key):
        show("get_recursive", obj)
    print("get_all", sorted(o.key for o in s3.get_all()))
    print("get_many", [o.text for o in s3.get_many(["c/3", "a/b/1"])])
    s3.put("a/x.txt", "changed", overwrite=False)
    print("no overwrite", s3.get("a/x.txt").text)
