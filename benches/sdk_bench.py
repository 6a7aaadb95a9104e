"""The official Python SDKs on `make bench`'s workloads, for comparison with append_bench.

    sdk_bench.py oss2|v2|v2-nocrc bulk  ENDPOINT BUCKET KEY MIB REQUEST_MIB
    sdk_bench.py oss2|v2|v2-nocrc small ENDPOINT BUCKET KEY COUNT SIZE

Same output as append_bench: one key=value line, CPU of this process over the measured part.
CRC-64 is checked on every append, as oss-append checks it. oss2 does it itself when given the
object's CRC so far (init_crc). alibabacloud-oss-v2 1.4.1 checks no CRC on AppendObject (it does
on PutObject and UploadPart, with its crc.Crc64 over the body), so "v2" checks with that same
Crc64 after each append, and "v2-nocrc" shows the SDK as it ships.
"""

import os
import resource
import sys
import time

import alibabacloud_oss_v2 as oss
import oss2
from alibabacloud_oss_v2.crc import Crc64


def generated(size):
    # Not all alike, as append_bench's; random bytes need no generator loop in Python.
    return os.urandom(size)


def oss2_appender(endpoint, bucket, key):
    # V1, as oss2 signs; enable_crc is on by default and checked here because init_crc is given.
    bucket = oss2.Bucket(oss2.Auth(os.environ["OSS_ACCESS_KEY_ID"],
                                   os.environ["OSS_ACCESS_KEY_SECRET"]), endpoint, bucket)

    def append(position, data, crc):
        result = bucket.append_object(key, position, data, init_crc=crc)
        return result.next_position, result.crc

    return append


def v2_appender(endpoint, bucket, key, check_crc=True):
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        os.environ["OSS_ACCESS_KEY_ID"], os.environ["OSS_ACCESS_KEY_SECRET"])
    cfg.region = "cn-hangzhou"
    cfg.endpoint = endpoint
    cfg.use_path_style = True
    client = oss.Client(cfg)

    def append(position, data, crc):
        result = client.append_object(oss.AppendObjectRequest(
            bucket=bucket, key=key, position=position, body=data, init_hash_crc64=crc))
        if check_crc:
            ours = Crc64(crc)
            ours.update(data)
            if str(ours.sum64()) != result.hash_crc64:
                raise RuntimeError(f"CRC-64 mismatch: ours {ours.sum64()}, server {result.hash_crc64}")
        return result.next_position, int(result.hash_crc64)

    return append


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main():
    sdk, mode, endpoint, bucket, key, a, b = sys.argv[1:]
    if mode == "bulk":
        size = int(b) << 20
        count = int(a) // int(b)
    else:
        count, size = int(a), int(b)
    data = generated(size)
    append = {
        "oss2": oss2_appender,
        "v2": v2_appender,
        "v2-nocrc": lambda *target: v2_appender(*target, check_crc=False),
    }[sdk](endpoint, bucket, key)
    user, sys_ = cpu()
    start = time.monotonic()
    position, crc = 0, 0
    for _ in range(count):
        position, crc = append(position, data, crc)
    seconds = time.monotonic() - start
    user_end, sys_end = cpu()
    assert position == size * count, position
    print(f"mode={mode} bytes={size * count} operations={count} seconds={seconds:.6f} "
          f"user={user_end - user:.6f} sys={sys_end - sys_:.6f}")


if __name__ == "__main__":
    main()
