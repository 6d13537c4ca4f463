"""The first thing a task runs when its code comes in a code package: fetch, verify, hand over.

Specs carry this file's code after the docstring as ``FLOWC_BOOTSTRAP`` and start every task with

    python -c "import os;exec(os.environ['FLOWC_BOOTSTRAP'])" URL <shim arguments>

so an image needs nothing but Python (and pip, for boto3 when the package is in S3 and the image
lacks it, as Metaflow installs boto3 at task start). It reads the archive, checks its sha256
against the one in its name, and only then runs code from it: the archive's own
``flowc/runtime_shim/code_package.py``, which extracts it into a private cache and starts the
shim from there. An archive without flowc's runtime (``flowc package --no-runtime``) runs the
image's flowc instead. Standard library only; no ``$`` and no brace pairs, so the text passes
through every engine's templating unchanged.
"""
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from typing import Any, NoReturn


def _fail(message: str) -> NoReturn:
    sys.exit("flowc: error: " + message)


def _cache() -> str:
    path = os.environ.get("FLOWC_CODE_CACHE", "/tmp/flowc-code")
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not os.path.isdir(path) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        _fail("code cache " + path + " is not a directory private to this user (set FLOWC_CODE_CACHE)")
    return path


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        cache = _cache()
        site = os.path.join(cache, "boto3")
        if not os.path.isdir(site):
            staging = tempfile.mkdtemp(dir=cache)
            pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                   "--no-cache-dir", "--target", staging, "boto3"]
            if subprocess.run(pip, stdout=sys.stderr).returncode != 0:
                _fail("the image has no boto3 and pip could not install it: use an image with boto3")
            try:
                os.rename(staging, site)
            except OSError:
                pass  # another task on this host installed it first
        sys.path.insert(0, site)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")]))
        import boto3
    return boto3


def fetch(url: str) -> bytes:
    if url.startswith("s3://"):
        bucket, _, key = url[5:].partition("/")
        try:
            return _boto3().client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            _fail("cannot read code package " + url + ": " + str(exc))
    try:
        with open(url[7:] if url.startswith("file://") else url, "rb") as handle:
            return handle.read()
    except OSError as exc:
        _fail("cannot read code package " + url + ": " + str(exc.strerror))


def main(argv: list[str]) -> None:
    if not argv:
        _fail("usage: bootstrap URL [shim arguments]")
    url, shim_args = argv[0], argv[1:]
    name = re.fullmatch(".*-([0-9a-f]{64})[.]tar[.]gz", url)
    if name is None:
        _fail("code package " + url + " is not named <stem>-<sha256>.tar.gz")
    data = fetch(url)
    if hashlib.sha256(data).hexdigest() != name.group(1):
        _fail("code package " + url + " does not match the sha256 in its name; refusing to run it")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        handle = tar.extractfile("flowc/runtime_shim/code_package.py") if "flowc/runtime_shim/code_package.py" in names else None
        source = handle.read() if handle else None
    if source is None:
        from flowc.runtime_shim import code_package
        code_package.run(data, url, shim_args)
    scope: dict[str, Any] = dict(__name__="flowc_code_package")
    exec(compile(source, "flowc/runtime_shim/code_package.py", "exec"), scope)
    scope["run"](data, url, shim_args)


if __name__ == "__main__":
    main(sys.argv[1:])
