"""One face over the official SDKs, so each behaviour is written once and refereed by
oss2 (V1), alibabacloud-oss-v2 with V1, and alibabacloud-oss-v2 with V4."""

from dataclasses import dataclass

import alibabacloud_oss_v2 as oss
import oss2

from conftest import BUCKET, oss2_bucket, v2_client


# Request fields as alibabacloud-oss-v2 names them, and the headers oss2 is given for them.
HEADERS = {
    "content_type": "Content-Type", "cache_control": "Cache-Control",
    "content_disposition": "Content-Disposition", "acl": "x-oss-object-acl",
    "storage_class": "x-oss-storage-class", "tagging": "x-oss-tagging",
    "server_side_encryption": "x-oss-server-side-encryption",
    "server_side_data_encryption": "x-oss-server-side-data-encryption",
    "server_side_encryption_key_id": "x-oss-server-side-encryption-key-id",
    "traffic_limit": "x-oss-traffic-limit",
}


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
        result = self.bucket.append_object(key, position, data, headers=self.headers(create),
                                           init_crc=init_crc)
        return result.next_position, result.crc

    def append_answer(self, key, position, data, **fields):
        """Appends with request `fields`; the answer's headers."""
        return dict(self.bucket.append_object(key, position, data, headers=self.headers(fields)).headers)

    @staticmethod
    def headers(fields):
        fields = fields or {}
        headers = {HEADERS[field]: str(value) for field, value in fields.items() if field in HEADERS}
        for name, value in (fields.get("metadata") or {}).items():
            headers["x-oss-meta-" + name] = value
        return headers

    def head(self, key):
        return dict(self.bucket.head_object(key).headers)

    def get(self, key, byte_range=None, **fields):
        return self.bucket.get_object(key, byte_range=byte_range, headers=self.headers(fields)).read()

    def put(self, key, data, **fields):
        return dict(self.bucket.put_object(key, data, headers=self.headers(fields)).headers)

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

    def append_answer(self, key, position, data, **fields):
        """Appends with request `fields`; the answer's headers, as the SDK's result reads them."""
        result = self.client.append_object(oss.AppendObjectRequest(
            bucket=BUCKET, key=key, position=position, body=data, **fields))
        answer = dict(result.headers)
        # The typed result must agree with the headers it was read from.
        assert (result.server_side_encryption, result.server_side_data_encryption,
                result.server_side_encryption_key_id) == tuple(
            answer.get(HEADERS[field]) for field in
            ("server_side_encryption", "server_side_data_encryption", "server_side_encryption_key_id"))
        return answer

    def head(self, key):
        return dict(self.client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key=key)).headers)

    def get(self, key, byte_range=None, **fields):
        request = oss.GetObjectRequest(bucket=BUCKET, key=key, **fields)
        if byte_range:
            start, end = byte_range
            request.range_header = f"bytes={start}-{'' if end is None else end}"
        return self.client.get_object(request).body.read()

    def put(self, key, data, **fields):
        return dict(self.client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=data,
                                                                **fields)).headers)

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
