"""Presigned URLs: the official SDKs sign them (oss2's `Bucket.sign_url`, alibabacloud-oss-v2's
`Client.presign`), a plain HTTP client (requests) uses them, and the server must accept them,
refuse them once expired by its clock, and refuse them signed with another secret.

alibabacloud-oss-v2 1.4.1 presigns GetObject, PutObject, HeadObject and the multipart
operations only (`PresignRequest` in presigner.py), so its referees stop at GET and PUT;
oss2 presigns any method and parameters, AppendObject included."""

import datetime
import re
import time

import alibabacloud_oss_v2 as oss
import oss2
import pytest
import requests

from conftest import AK, BUCKET, DOMAIN, SK, v2_client

VERSIONS = ["v1", "v4"]
EXPIRED_EC = {"v1": "0002-00000069", "v4": "0002-00000236"}


class Oss2Signer:
    """oss2, V1 (`Auth`) or V4 (`AuthV4`), `StsAuth` with a token."""

    appends = True

    def __init__(self, server, version, secret=SK, token=None, virtual_hosted=False):
        if token:
            auth = oss2.StsAuth(AK, secret, token, auth_version=version)
        elif version == "v4":
            auth = oss2.AuthV4(AK, secret)
        else:
            auth = oss2.Auth(AK, secret)
        endpoint = f"http://{DOMAIN}:{server.port}" if virtual_hosted else server.url
        self.bucket = oss2.Bucket(auth, endpoint, BUCKET, region="cn-hangzhou")

    def sign(self, method, key, headers=None, params=None):
        """(method, url, headers to send)."""
        url = self.bucket.sign_url(method, key, 60, headers=headers, params=params)
        return method, url, dict(headers or {})


class V2Signer:
    """alibabacloud-oss-v2 with V1 or V4."""

    appends = False

    def __init__(self, server, version, **options):
        self.client = v2_client(server, version=version, **options)

    def sign(self, method, key, headers=None, params=None):
        assert params is None, "alibabacloud-oss-v2 presigns no AppendObject"
        content_type = (headers or {}).get("Content-Type")
        make = {"GET": oss.GetObjectRequest, "PUT": oss.PutObjectRequest}[method]
        request = make(bucket=BUCKET, key=key, **({"content_type": content_type} if content_type else {}))
        result = self.client.presign(request, expires=datetime.timedelta(seconds=60))
        return result.method, result.url, dict(result.signed_headers)


SIGNERS = {
    f"{sdk}-{version}": (lambda server, cls=cls, version=version, **o: cls(server, version, **o))
    for sdk, cls in [("oss2", Oss2Signer), ("v2", V2Signer)]
    for version in VERSIONS
}


@pytest.fixture(params=sorted(SIGNERS))
def signer(request):
    return request.param


def fetch(signed, body=None):
    method, url, headers = signed
    return requests.request(method, url, headers=headers, data=body)


def element(response, name):
    found = re.search(f"<{name}>(.*?)</{name}>", response.text)
    return found.group(1) if found else None


@pytest.mark.parametrize("virtual_hosted", [False, True])
def test_presigned_put_and_get_of_an_object(server, signer, virtual_hosted):
    sdk = SIGNERS[signer](server, virtual_hosted=virtual_hosted)
    key = "presigned/dir/name with space+plus.txt"
    put = sdk.sign("PUT", key, headers={"Content-Type": "text/plain"})
    response = fetch(put, b"uploaded through a URL")
    assert response.status_code == 200, response.text
    response = fetch(sdk.sign("GET", key))
    assert response.status_code == 200, response.text
    assert response.content == b"uploaded through a URL"
    assert response.headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize("version", VERSIONS)
def test_presigned_appends_with_oss2(server, version):
    sdk = Oss2Signer(server, version)
    key = "presigned.log"
    for position, data in [(0, b"first,"), (6, b"second")]:
        append = sdk.sign("POST", key, params={"append": "", "position": str(position)})
        response = fetch(append, data)
        assert response.status_code == 200, response.text
        assert int(response.headers["x-oss-next-append-position"]) == position + len(data)
    stale = fetch(sdk.sign("POST", key, params={"append": "", "position": "0"}), b"again")
    assert (stale.status_code, element(stale, "Code")) == (409, "PositionNotEqualToLength")
    assert oss2.Bucket(oss2.Auth(AK, SK), server.url, BUCKET).get_object(key).read() == b"first,second"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_presigned_listing_with_oss2(server, version):
    """A bucket's own operation through a URL. oss2's `sign_url` refuses an empty key, so the
    URL is signed as `sign_url` signs, by the same call on the request it makes."""
    sdk = Oss2Signer(server, version)
    sdk.bucket.put_object("listed/a b", b"v")
    sdk.bucket.put_object("other", b"v")
    request = oss2.http.Request("GET", f"{server.url}/{BUCKET}/", region="cn-hangzhou", product="oss",
                                params={"prefix": "listed/", "encoding-type": "url"})
    response = requests.get(sdk.bucket.auth._sign_url(request, BUCKET, "", 60))
    assert response.status_code == 200, response.text
    assert re.findall("<Key>(.*?)</Key>", response.text) == ["listed%2Fa%20b"]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_presigned_download_is_paced_by_the_traffic_limit_in_its_url(server, version):
    """oss2 signs x-oss-traffic-limit into the URL (a V1 sub-resource), as a browser or curl
    cannot send the header; the server paces by it, and refuses it given twice."""
    sdk = Oss2Signer(server, version)
    data = bytes(range(256)) * 120  # 0.3 s at 819200 bit/s
    sdk.bucket.put_object("paced", data)
    def limit():  # a new dict each time: oss2 adds the signature's parameters to `params`
        return {"x-oss-traffic-limit": "819200"}
    started = time.monotonic()
    response = fetch(sdk.sign("GET", "paced", params=limit()))
    assert (response.status_code, response.content) == (200, data), response.text
    assert time.monotonic() - started >= len(data) * 8 / 819200
    both = fetch(sdk.sign("GET", "paced", headers=limit(), params=limit()))
    assert (both.status_code, element(both, "EC")) == (400, "0004-00000501")


def test_an_expired_presigned_url_is_access_denied(server, signer):
    sdk = SIGNERS[signer](server)
    oss2.Bucket(oss2.Auth(AK, SK), server.url, BUCKET).put_object("k", b"v")
    get = sdk.sign("GET", "k")
    assert fetch(get).status_code == 200
    # The URL is valid 60 s; by the server's clock it is now an hour later.
    server.control("PUT", "/-/clock?offset_seconds=3600")
    response = fetch(get)
    version = signer.rsplit("-", 1)[1]
    assert response.status_code == 403
    assert (element(response, "Code"), element(response, "Message"), element(response, "EC")) == (
        "AccessDenied", "Request has expired.", EXPIRED_EC[version])
    assert element(response, "Expires") < element(response, "ServerTime")


def test_a_url_presigned_with_another_secret_does_not_match(server, signer):
    sdk = SIGNERS[signer](server, secret="not-the-secret")
    response = fetch(sdk.sign("PUT", "k"), b"x")
    assert (response.status_code, element(response, "Code")) == (403, "SignatureDoesNotMatch")
    assert element(response, "EC") == "0002-00000040"


def test_presigned_urls_carry_the_sts_token(start_server, signer):
    server = start_server("--security-token", "sts-token-123")
    sdk = SIGNERS[signer](server, token="sts-token-123")
    response = fetch(sdk.sign("PUT", "sts.txt"), b"with a token")
    assert response.status_code == 200, response.text
    assert fetch(sdk.sign("GET", "sts.txt")).content == b"with a token"
    if sdk.appends:
        append = sdk.sign("POST", "sts.log", params={"append": "", "position": "0"})
        assert fetch(append, b"log").status_code == 200
    for other in [SIGNERS[signer](server), SIGNERS[signer](server, token="stolen-token")]:
        response = fetch(other.sign("GET", "sts.txt"))
        assert (response.status_code, element(response, "Code")) == (403, "InvalidSecurityToken")
