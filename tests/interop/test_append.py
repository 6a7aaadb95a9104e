"""Append semantics as the official SDKs see them."""

import alibabacloud_oss_v2 as oss
import oss2
import pytest
from oss2.utils import Crc64

from conftest import BUCKET
from sdks import FLAVOURS

GREETING, DEMO = b"hi oss,append object", b",this is a demo"
CRC_GREETING, CRC_BOTH = 2313496259928504459, 8586970469916596321


@pytest.fixture(params=sorted(FLAVOURS))
def sdk(request, server):
    return FLAVOURS[request.param](server)


def test_create_by_append_then_append_again_and_read_back(sdk):
    assert sdk.append("log.txt", 0, GREETING) == (len(GREETING), CRC_GREETING)
    # init_crc makes each SDK check the server's CRC of the whole object against its own.
    assert sdk.append("log.txt", len(GREETING), DEMO, init_crc=CRC_GREETING) == (
        len(GREETING + DEMO), CRC_BOTH)
    assert sdk.get("log.txt") == GREETING + DEMO
    assert sdk.get("log.txt", byte_range=(3, 5)) == (GREETING + DEMO)[3:6]


def test_head_reports_appendable_type_length_position_and_crc(sdk):
    sdk.append("obj", 0, GREETING)
    headers = sdk.head("obj")
    assert headers["x-oss-object-type"] == "Appendable"
    assert headers["Content-Length"] == str(len(GREETING))
    assert headers["x-oss-next-append-position"] == str(len(GREETING))
    assert headers["x-oss-hash-crc64ecma"] == str(CRC_GREETING)
    assert headers["ETag"].startswith('"') and headers["Last-Modified"].endswith("GMT")
    assert len(headers["x-oss-request-id"]) == 24


def test_wrong_position_fails_with_the_current_length(sdk):
    sdk.append("obj", 0, GREETING)
    failure = sdk.failure(lambda: sdk.append("obj", 3, b"x"))
    assert (failure.status, failure.code, failure.ec) == (409, "PositionNotEqualToLength", "0026-00000016")
    assert failure.next_position == len(GREETING)
    assert len(failure.request_id) == 24
    assert sdk.get("obj") == GREETING


def test_position_zero_on_a_non_empty_object_fails(sdk):
    sdk.append("obj", 0, GREETING)
    failure = sdk.failure(lambda: sdk.append("obj", 0, GREETING))
    assert (failure.code, failure.next_position) == ("PositionNotEqualToLength", len(GREETING))


def test_append_to_a_normal_object_is_refused(sdk):
    sdk.put("normal", b"put data")
    failure = sdk.failure(lambda: sdk.append("normal", 8, b"x"))
    assert (failure.status, failure.code, failure.ec) == (409, "ObjectNotAppendable", "0026-00000017")
    assert sdk.head("normal")["x-oss-object-type"] == "Normal"


def test_put_over_an_appendable_object_makes_it_normal(sdk):
    sdk.append("obj", 0, GREETING)
    sdk.put("obj", b"replaced")
    headers = sdk.head("obj")
    assert headers["x-oss-object-type"] == "Normal"
    assert "x-oss-next-append-position" not in headers
    check = Crc64(0)
    check.update(b"replaced")
    assert (headers["Content-Length"], int(headers["x-oss-hash-crc64ecma"])) == ("8", check.crc)


def test_create_parameters_round_trip_and_later_appends_do_not_change_them(sdk):
    create = {"content_type": "text/plain", "cache_control": "no-cache",
              "content_disposition": "attachment; filename=log.txt",
              "metadata": {"author": "alice"}, "acl": "public-read",
              "storage_class": "IA", "tagging": "team=core&env=test"}
    sdk.append("obj", 0, GREETING, create=create)
    later = dict(create, content_type="image/png", metadata={"author": "mallory"})
    sdk.append("obj", len(GREETING), DEMO, create=later)
    headers = sdk.head("obj")
    assert headers["Content-Type"] == "text/plain"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Content-Disposition"] == "attachment; filename=log.txt"
    assert headers["x-oss-meta-author"] == "alice"
    assert headers["x-oss-storage-class"] == "IA"
    assert headers["x-oss-tagging-count"] == "2"


def test_acl_and_tags_set_on_create_are_readable(server):
    bucket = FLAVOURS["oss2-v1"](server).bucket
    bucket.append_object("obj", 0, b"x", headers={"x-oss-object-acl": "public-read",
                                                  "x-oss-tagging": "team=core&note=a%20b"})
    assert bucket.get_object_acl("obj").acl == "public-read"
    assert bucket.get_object_tagging("obj").tag_set.tagging_rule == {"team": "core", "note": "a b"}


def test_missing_key_is_no_such_key_and_head_carries_the_error_in_headers(sdk):
    failure = sdk.failure(lambda: sdk.get("absent"))
    assert (failure.status, failure.code) == (404, "NoSuchKey")
    # HEAD has no body: the SDKs read the code from x-oss-err.
    failure = sdk.failure(lambda: sdk.head("absent"))
    assert (failure.status, failure.code, failure.ec) == (404, "NoSuchKey", "0026-00000001")


def test_missing_bucket_is_no_such_bucket(server):
    bucket = oss2.Bucket(oss2.Auth("test-ak", "test-secret-value"), server.url, "no-such-bucket")
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        bucket.append_object("k", 0, b"x")


def test_oss2_detects_a_server_crc_that_differs_from_the_data_sent(server):
    bucket = FLAVOURS["oss2-v1"](server).bucket
    server.fault(action="corrupt", op="append", key="obj")
    with pytest.raises(oss2.exceptions.InconsistentError):
        bucket.append_object("obj", 0, GREETING, init_crc=0)


def test_v2_append_file_writes_and_reopens_with_crc_checks(server):
    client = FLAVOURS["v2-v4"](server).client
    with client.append_file(BUCKET, "file.log") as f:
        f.write(GREETING)
        f.write(DEMO[:5])
    with client.append_file(BUCKET, "file.log") as f:
        assert f.tell() == len(GREETING) + 5
        f.write(DEMO[5:])
    result = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="file.log"))
    assert result.body.read() == GREETING + DEMO
    assert int(result.hash_crc64) == CRC_BOTH


def test_v2_append_file_refuses_a_normal_object(server):
    client = FLAVOURS["v2-v4"](server).client
    client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="normal", body=b"x"))
    with pytest.raises(Exception, match="not an appendable|Appendable|appendable"):
        client.append_file(BUCKET, "normal")


def test_v2_retries_a_503_and_the_object_gets_the_bytes_once(server):
    client = FLAVOURS["v2-v4"](server).client
    server.fault(action="error", status=503, op="append", key="obj")
    result = client.append_object(oss.AppendObjectRequest(bucket=BUCKET, key="obj", position=0, body=GREETING))
    assert result.next_position == len(GREETING)
    assert server.pending_faults() == 0
    assert client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="obj")).body.read() == GREETING


def test_content_md5_is_checked(server):
    bucket = FLAVOURS["oss2-v1"](server).bucket
    wrong = oss2.utils.content_md5(b"other")
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.append_object("obj", 0, GREETING, headers={"Content-MD5": wrong})
    bucket.append_object("obj", 0, GREETING, headers={"Content-MD5": oss2.utils.content_md5(GREETING)})


def test_crc_of_a_large_object_matches_the_sdk_computation(sdk):
    data = bytes(range(256)) * 4096 * 3
    position, crc = 0, 0
    for piece in (data[:5], data[5:1_000_000], data[1_000_000:]):
        position, crc = sdk.append("big", position, piece, init_crc=crc if position else None)
    check = Crc64(0)
    check.update(data)
    assert (position, crc) == (len(data), check.crc)
