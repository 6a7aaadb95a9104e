"""Chunked request bodies, as oss2 sends a generator body and as curl (the official C SDK's
HTTP stack) sends `Transfer-Encoding: chunked`, alone or with a Content-Length."""

import hashlib
import subprocess

import oss2
import oss2.http
import pytest
import requests
from oss2.utils import Crc64

from conftest import AK, BUCKET, SK
from sdks import FLAVOURS

DATA = bytes(range(256)) * 1000


def crc(data):
    check = Crc64(0)
    check.update(data)
    return check.crc


def pieces(data, size):
    """A generator body: oss2 cannot know its length, so requests sends it chunked."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.fixture
def bucket(server):
    return FLAVOURS["oss2-v1"](server).bucket


@pytest.fixture
def sent(monkeypatch):
    """The headers of each request oss2 sends, as requests hands it to the connection."""
    heads = []
    send = requests.adapters.HTTPAdapter.send

    def spy(self, request, **kwargs):
        heads.append(dict(request.headers))
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", spy)
    return heads


def test_oss2_appends_generator_bodies_chunked_and_checks_the_crc(bucket, sent):
    # init_crc makes oss2 compare the server's CRC of the whole object with its own.
    first = bucket.append_object("gen", 0, pieces(DATA[:100_000], 8192), init_crc=0)
    assert sent[-1].get("Transfer-Encoding") == "chunked" and "Content-Length" not in sent[-1]
    assert (first.next_position, first.crc) == (100_000, crc(DATA[:100_000]))
    second = bucket.append_object("gen", 100_000, pieces(DATA[100_000:], 7777), init_crc=first.crc)
    assert (second.next_position, second.crc) == (len(DATA), crc(DATA))
    assert bucket.get_object("gen").read() == DATA


def test_oss2_puts_a_generator_body_chunked_with_its_md5_as_etag(bucket, sent):
    result = bucket.put_object("put", pieces(DATA, 4096))
    assert sent[-1].get("Transfer-Encoding") == "chunked"
    assert result.etag == hashlib.md5(DATA).hexdigest().upper()
    assert result.crc == crc(DATA)
    head = bucket.head_object("put")
    assert (head.object_type, head.content_length) == ("Normal", len(DATA))
    assert bucket.get_object("put").read() == DATA


def test_a_chunked_body_is_checked_against_its_content_md5(bucket):
    wrong = {"Content-MD5": oss2.utils.content_md5(b"other")}
    with pytest.raises(oss2.exceptions.InvalidDigest):
        bucket.append_object("md5", 0, pieces(DATA, 1000), headers=wrong)
    right = {"Content-MD5": oss2.utils.content_md5(DATA)}
    assert bucket.append_object("md5", 0, pieces(DATA, 1000), headers=right).next_position == len(DATA)


def test_a_chunked_append_at_a_wrong_position_fails_with_the_length(bucket):
    bucket.append_object("gen", 0, b"abc")
    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as raised:
        bucket.append_object("gen", 1, pieces(b"xyz", 1))
    assert int(raised.value.next_position) == 3
    assert bucket.get_object("gen").read() == b"abc"


def curl_append(server, tmp_path, key, data, *extra):
    """curl sends `data` chunked to AppendObject at position 0, signed by oss2's own V1
    signer (`_sign_request` of the pinned 2.19.1); `extra` are more curl arguments. Returns
    the status, the answer's headers (lowercased) and the request head curl sent."""
    url = f"{server.url}/{BUCKET}/{key}"
    request = oss2.http.Request("POST", url, params={"append": "", "position": "0"},
                                headers={"Content-Type": "application/octet-stream"})
    oss2.Auth(AK, SK)._sign_request(request, BUCKET, key)
    signed = [arg for name, value in request.headers.items() if value is not None
              for arg in ("-H", f"{name}: {value}")]
    trace = tmp_path / f"{key}.trace"
    answer = subprocess.run(
        ["curl", "-sS", "-X", "POST", "-D", "-", "-o", "/dev/null", "--trace-ascii", str(trace),
         *signed, "-H", "Transfer-Encoding: chunked", *extra, "--data-binary", "@-",
         url + "?append&position=0"],
        input=data, capture_output=True, check=True).stdout.decode()
    status_line, *lines = answer.strip().splitlines()
    headers = dict(line.split(": ", 1) for line in lines)
    # curl's trace: "=> Send header" opens the request head, the next "=>" ends it.
    sent = trace.read_text().split("=> Send header", 1)[1].split("=>", 1)[0]
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, sent


def test_curl_appends_a_chunked_body_on_a_kept_connection(server, bucket, tmp_path):
    status, headers, sent = curl_append(server, tmp_path, "curl", DATA)
    assert "Transfer-Encoding: chunked" in sent and "Content-Length" not in sent
    assert status == 200
    assert int(headers["x-oss-next-append-position"]) == len(DATA)
    assert int(headers["x-oss-hash-crc64ecma"]) == crc(DATA)
    assert headers["connection"] == "keep-alive"
    assert bucket.get_object("curl").read() == DATA


@pytest.mark.parametrize("length", [len(DATA), 1])
def test_curl_with_both_headers_is_read_chunked_and_the_connection_closes(server, bucket, tmp_path, length):
    # The official C SDK's shape: curl sends Transfer-Encoding and Content-Length together.
    status, headers, sent = curl_append(server, tmp_path, "both", DATA, "-H", f"Content-Length: {length}")
    assert "Transfer-Encoding: chunked" in sent and f"Content-Length: {length}" in sent
    assert status == 200
    assert int(headers["x-oss-next-append-position"]) == len(DATA)
    assert headers["connection"] == "close"
    assert bucket.get_object("both").read() == DATA
