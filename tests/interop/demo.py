"""`make demo` until the C ABI lands: the local server and an append upload by the official SDK.

Starts oss-local-server on a free port, appends a generated file to one object in 8 MiB
requests, then resumes the same object with a second file (reading its length and CRC back
from HEAD), checks the object's length and CRC-64 against a local computation and prints the
throughput. The C tool `append_file` takes this job over in the C ABI issue.
"""

import os
import subprocess
import sys
import time

import oss2
from oss2.utils import Crc64

REQUEST = 8 << 20
AK, SK, BUCKET, KEY = "demo-ak", "demo-secret", "demo-bucket", "demo/append.log"


def generate(size, seed):
    block = bytes((i * 31 + seed) & 0xFF for i in range(1 << 20))
    return (block * (size // len(block) + 1))[:size]


def append_all(bucket, data, label):
    head = bucket.head_object(KEY) if bucket.object_exists(KEY) else None
    position = int(head.headers["x-oss-next-append-position"]) if head else 0
    crc = int(head.headers["x-oss-hash-crc64ecma"]) if head else 0
    started = time.perf_counter()
    for offset in range(0, len(data), REQUEST):
        # init_crc makes oss2 check the server's CRC of the whole object after each request.
        result = bucket.append_object(KEY, position, data[offset:offset + REQUEST], init_crc=crc)
        position, crc = result.next_position, result.crc
    seconds = time.perf_counter() - started
    print(f"{label}: {len(data) >> 20} MiB in {seconds:.2f} s, {len(data) / seconds / 1e6:.0f} MB/s")
    return position, crc


def main():
    binary = sys.argv[1]
    server = subprocess.Popen([binary, "--access-key-id", AK, "--access-key-secret", SK,
                               "--bucket", BUCKET], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip().removeprefix("listening on ")
        print(f"local OSS server at {url}")
        bucket = oss2.Bucket(oss2.Auth(AK, SK), url, BUCKET)
        first, second = generate(int(os.environ.get("DEMO_MIB", "64")) << 20, 1), generate(5 << 20, 7)
        append_all(bucket, first, "create")
        length, crc = append_all(bucket, second, "resume")
        local = Crc64(0)
        local.update(first)
        local.update(second)
        assert length == len(first) + len(second), (length, len(first) + len(second))
        assert crc == local.crc, (crc, local.crc)
        print(f"oss://{BUCKET}/{KEY}: {length} bytes, CRC-64 {crc} matches the local computation")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
