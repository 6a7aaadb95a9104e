"""One face over the official SDKs, so each behaviour is written once and refereed by
oss2 (V1), alibabacloud-oss-v2 with V1, and alibabacloud-oss-v2 with V4."""

from dataclasses import dataclass

import alibabacloud_oss_v2 as oss
import oss2

from conftest import BUCKET, oss2_bucket, v2_client


@dataclass
class Failure:
    status: int
    code: str
    request_id: str
    ec: str
    next_position: int | None


class Oss2:
    name = "oss2-v1"

    def __init__(self, server, **options):
        self.bucket = oss2_bucket(server, **options)

    def append(self, key, position, data, init_crc=None, create=None):
        headers = {}
        for field, header in [("content_type", "Content-Type"), ("cache_control", "Cache-Control"),
                              ("content_disposition", "Content-Disposition"),
                              ("acl", "x-oss-object-acl"), ("storage_class", "x-oss-storage-class"),
                              ("tagging", "x-oss-tagging")]:
            if create and field in create:
                headers[header] = create[field]
        for name, value in ((create or {}).get("metadata") or {}).items():
            headers["x-oss-meta-" + name] = value
        result = self.bucket.append_object(key, position, data, headers=headers, init_crc=init_crc)
        return result.next_position, result.crc

    def head(self, key):
        return dict(self.bucket.head_object(key).headers)

    def get(self, key, byte_range=None):
        return self.bucket.get_object(key, byte_range=byte_range).read()

    def put(self, key, data):
        self.bucket.put_object(key, data)

    def failure(self, call):
        try:
            call()
        except oss2.exceptions.OssError as e:
            next_position = getattr(e, "next_position", None)
            return Failure(e.status, e.code, e.request_id, e.details.get("EC", ""),
                           int(next_position) if next_position is not None else None)
        raise AssertionError("the call succeeded")


class V2:
    def __init__(self, server, version="v4", **options):
        self.name = f"v2-{version}"
        self.client = v2_client(server, version=version, **options)

    def append(self, key, position, data, init_crc=None, create=None):
        create = dict(create or {})
        result = self.client.append_object(oss.AppendObjectRequest(
            bucket=BUCKET, key=key, position=position, body=data, init_hash_crc64=init_crc, **create))
        return result.next_position, int(result.hash_crc64)

    def head(self, key):
        return dict(self.client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key=key)).headers)

    def get(self, key, byte_range=None):
        request = oss.GetObjectRequest(bucket=BUCKET, key=key)
        if byte_range:
            start, end = byte_range
            request.range_header = f"bytes={start}-{'' if end is None else end}"
        return self.client.get_object(request).body.read()

    def put(self, key, data):
        self.client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=data))

    def failure(self, call):
        try:
            call()
        except oss.exceptions.OperationError as wrapped:
            e = wrapped.unwrap()
            assert isinstance(e, oss.exceptions.ServiceError), repr(e)
            next_position = (e.headers or {}).get("x-oss-next-append-position")
            return Failure(e.status_code, e.code, e.request_id, e.ec or "",
                           int(next_position) if next_position is not None else None)
        raise AssertionError("the call succeeded")


FLAVOURS = {
    "oss2-v1": lambda server, **o: Oss2(server, **o),
    "v2-v1": lambda server, **o: V2(server, "v1", **o),
    "v2-v4": lambda server, **o: V2(server, "v4", **o),
}
