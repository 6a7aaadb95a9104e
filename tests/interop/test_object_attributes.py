"""Object attributes the official SDKs' own suites check against real OSS: server-side
encryption fixed by the first append and answered by every later one (oss2's
test_server_side_encryotion.py), tagging limits on create and tags ignored on later appends
(oss2's test_object.py), and x-oss-traffic-limit throttling (oss2's test_traffic_limit.py),
through oss2 (V1) and alibabacloud-oss-v2 (V1 and V4)."""

import time
from urllib.parse import quote

import oss2
import pytest

from sdks import FLAVOURS

ALGORITHM = "x-oss-server-side-encryption"
DATA_ALGORITHM = "x-oss-server-side-data-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"


@pytest.fixture(params=sorted(FLAVOURS))
def sdk(request, server):
    return FLAVOURS[request.param](server)


def encryption(headers):
    return tuple(headers.get(name) for name in (ALGORITHM, DATA_ALGORITHM, KEY_ID))


def test_kms_is_fixed_by_the_first_append_and_later_appends_answer_it(sdk):
    algorithm, data, key_id = encryption(
        sdk.append_answer("kms", 0, b"123", server_side_encryption="KMS"))
    assert (algorithm, data) == ("KMS", None) and key_id
    # Later appends sending none, or another algorithm, still answer the object's own.
    assert encryption(sdk.append_answer("kms", 3, b"456")) == ("KMS", None, key_id)
    later = sdk.append_answer("kms", 6, b"789", server_side_encryption="AES256")
    assert encryption(later) == ("KMS", None, key_id)
    assert encryption(sdk.head("kms")) == ("KMS", None, key_id)
    assert sdk.get("kms") == b"123456789"


def test_a_named_key_and_sm4_data_are_kept_with_kms_only(sdk):
    kms = dict(server_side_encryption="KMS", server_side_data_encryption="SM4",
               server_side_encryption_key_id="my-cmk")
    assert encryption(sdk.append_answer("kms-sm4", 0, b"x", **kms)) == ("KMS", "SM4", "my-cmk")
    assert encryption(sdk.append_answer("kms-sm4", 1, b"y")) == ("KMS", "SM4", "my-cmk")
    # AES256 and SM4 have no key id, and take no data algorithm.
    for algorithm in ("AES256", "SM4"):
        answer = sdk.append_answer(algorithm, 0, b"x", server_side_encryption=algorithm,
                                   server_side_data_encryption="SM4")
        assert encryption(answer) == (algorithm, None, None)
        assert encryption(sdk.append_answer(algorithm, 1, b"y")) == (algorithm, None, None)
        assert encryption(sdk.head(algorithm)) == (algorithm, None, None)


def test_an_object_created_unencrypted_gets_no_encryption_from_later_appends(sdk):
    assert encryption(sdk.append_answer("plain", 0, b"abc")) == (None, None, None)
    later = sdk.append_answer("plain", 3, b"def", server_side_encryption="KMS")
    assert encryption(later) == (None, None, None)
    assert encryption(sdk.head("plain")) == (None, None, None)


def test_put_object_keeps_and_answers_its_encryption(sdk):
    algorithm, data, key_id = encryption(sdk.put("put", b"p", server_side_encryption="KMS"))
    assert (algorithm, data) == ("KMS", None) and key_id
    assert encryption(sdk.head("put")) == ("KMS", None, key_id)


def tags(count):
    return "&".join(f"k{i}=v{i}" for i in range(count))


@pytest.mark.parametrize("tagging,ec", [
    (tags(11), "0010-00000218"),
    ("k" * 129 + "=v", "0010-00000217"),
    ("k=" + "v" * 257, "0010-00000217"),
])
def test_tags_past_the_limits_refuse_the_create(sdk, tagging, ec):
    for create in (lambda: sdk.append("t", 0, b"x", create={"tagging": tagging}),
                   lambda: sdk.put("t", b"x", tagging=tagging)):
        failure = sdk.failure(create)
        assert (failure.status, failure.code, failure.ec) == (400, "InvalidArgument", ec)
    assert sdk.failure(lambda: sdk.head("t")).status == 404


def test_ten_tags_of_the_longest_keys_and_values_are_kept(sdk, server):
    rules = {f"{'键' * 127}{i}": "v" * 256 for i in range(10)}
    tagging = "&".join(f"{quote(key)}={value}" for key, value in rules.items())
    sdk.append("t", 0, b"x", create={"tagging": tagging})
    assert sdk.head("t")["x-oss-tagging-count"] == "10"
    stored = FLAVOURS["oss2-v1"](server).bucket.get_object_tagging("t").tag_set.tagging_rule
    assert stored == rules


def test_a_later_appends_tags_are_ignored_even_when_invalid(sdk, server):
    sdk.append("t", 0, b"x")
    sdk.append("t", 1, b"y", create={"tagging": tags(15)})
    sdk.append("t", 2, b"z", create={"tagging": "k" * 129 + "=v"})
    sdk.append("t", 3, b"!", create={"tagging": "k=%FF"})
    # oss2's own suite: the object has no tags.
    assert FLAVOURS["oss2-v1"](server).bucket.get_object_tagging("t").tag_set.tagging_rule == {}
    assert "x-oss-tagging-count" not in sdk.head("t")


# 100 KB/s, OSS's lowest limit.
SLOWEST = 100 * 1024 * 8


def test_oss2s_own_traffic_limited_append_takes_its_time(server):
    # oss2's test_traffic_limit.py: 1 MiB at 100 KB/s is 10.24 s; its suite asks for > 7.
    bucket = FLAVOURS["oss2-v1"](server).bucket
    started = time.monotonic()
    result = bucket.append_object("slow", 0, b"a" * (1 << 20),
                                  headers={oss2.models.OSS_TRAFFIC_LIMIT: str(SLOWEST)})
    assert result.status == 200
    assert time.monotonic() - started >= (1 << 20) * 8 / SLOWEST


def test_a_traffic_limit_paces_appends_puts_and_gets(sdk):
    data = bytes(range(256)) * 120  # 0.3 s at the limit
    least = len(data) * 8 / SLOWEST
    for call in (lambda: sdk.append("slow", 0, data, create={"traffic_limit": SLOWEST}),
                 lambda: sdk.put("slow-put", data, traffic_limit=SLOWEST),
                 lambda: sdk.get("slow", traffic_limit=SLOWEST)):
        started = time.monotonic()
        call()
        assert time.monotonic() - started >= least
    assert sdk.get("slow") == sdk.get("slow-put") == data


@pytest.mark.parametrize("limit", [SLOWEST - 1, 838860800 + 1])
def test_a_traffic_limit_outside_osss_range_is_refused(sdk, limit):
    sdk.append("o", 0, b"x")
    for call in (lambda: sdk.append("o", 1, b"y", create={"traffic_limit": limit}),
                 lambda: sdk.put("p", b"y", traffic_limit=limit),
                 lambda: sdk.get("o", traffic_limit=limit)):
        failure = sdk.failure(call)
        assert (failure.status, failure.code, failure.ec) == (400, "InvalidArgument", "0004-00000502")
    assert sdk.get("o") == b"x"
