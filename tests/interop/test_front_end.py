"""What sits between a client and OSS, as the official SDKs see it: HEAD errors whose
document a proxy dropped, a front end that refuses a request before its body, and a
network's round trip."""

import time

import pytest

from sdks import FLAVOURS


@pytest.fixture(params=["switch", "fault"])
def bare_server(request, start_server):
    if request.param == "switch":
        return start_server("--bare-head-errors")
    server = start_server()
    server.fault(action="bare-head-errors", count=3)
    return server


def test_a_bare_head_error_leaves_each_sdk_the_status_alone(bare_server):
    # oss2 finds no code; alibabacloud-oss-v2 reports that it found no error document.
    expected = {"oss2-v1": "", "v2-v1": "BadErrorResponse", "v2-v4": "BadErrorResponse"}
    for name, code in expected.items():
        sdk = FLAVOURS[name](bare_server)
        failure = sdk.failure(lambda: sdk.head("absent"))
        assert (failure.status, failure.code, failure.ec) == (404, code, ""), name
    # A GET's error keeps its document.
    sdk = FLAVOURS["oss2-v1"](bare_server)
    assert sdk.failure(lambda: sdk.get("absent")).code == "NoSuchKey"


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_an_early_refusal_reaches_the_sdk_with_its_document(server, flavour):
    sdk = FLAVOURS[flavour](server)
    server.fault(action="answer-early", op="append", status=403)
    failure = sdk.failure(lambda: sdk.append("obj", 0, b"x" * 4_000_000))
    assert (failure.status, failure.code) == (403, "AccessDenied")
    assert server.pending_faults() == 0
    assert sdk.failure(lambda: sdk.head("obj")).code == "NoSuchKey"


def test_an_early_409_names_the_objects_length(server):
    sdk = FLAVOURS["oss2-v1"](server)
    sdk.append("obj", 0, b"abc")
    server.fault(action="answer-early", op="append", status=409)
    failure = sdk.failure(lambda: sdk.append("obj", 3, b"y" * 1_000_000))
    assert (failure.status, failure.code, failure.next_position) == (409, "PositionNotEqualToLength", 3)
    assert sdk.get("obj") == b"abc"


def test_latency_delays_each_answer(start_server):
    sdk = FLAVOURS["v2-v4"](start_server("--latency-ms", "300"))
    for call in (lambda: sdk.append("obj", 0, b"x"), lambda: sdk.head("obj")):
        started = time.monotonic()
        call()
        assert time.monotonic() - started >= 0.3
