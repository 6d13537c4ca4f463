"""Child process of the flat-memory test: put and get one large object, report the resident set's growth.

Usage: python big_object.py ROOT SIZE_MIB WORKDIR. The file is written in 1 MiB chunks, and the
baseline RSS is taken after a warm-up put/get, so the growth is what moving the object costs.
"""

import hashlib
import json
import os
import sys
import threading
import time

from flowc.s3 import S3, S3GetObject


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


class PeakRss(threading.Thread):
    """Samples the resident set every 5 ms (ru_maxrss would hide growth below an earlier peak)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.base = rss_mib()
        self.peak = self.base
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mib())
            time.sleep(0.005)

    def growth(self) -> float:
        self.running = False
        self.join()
        return round(max(self.peak, rss_mib()) - self.base, 1)


def main() -> None:
    root, size_mib, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    path = os.path.join(work, "big.bin")
    chunk = os.urandom(1 << 20)
    expected = hashlib.sha256()
    with open(path, "wb") as handle:
        for _ in range(size_mib):
            handle.write(chunk)
            expected.update(chunk)
    with S3(s3root=root, tmproot=work) as s3:
        s3.put("warm", b"w" * 1024)
        s3.get("warm")
        sampler = PeakRss()
        sampler.start()
        s3.put_files([("big", path)])
        obj = s3.get("big")
        got = hashlib.sha256()
        with open(obj.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                got.update(block)
        tail = s3.get(S3GetObject("big", -(1 << 20)))
        print(json.dumps({"growth_mib": sampler.growth(), "size": obj.size,
                          "same": got.hexdigest() == expected.hexdigest(),
                          "tail": tail.size, "tail_total": tail.range_info.total_size}))


if __name__ == "__main__":
    main()
