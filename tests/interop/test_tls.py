"""HTTPS with --tls-cert/--tls-key, the certificate verified by the SDKs' HTTP stack."""

import subprocess

import pytest
from oss2.utils import Crc64

from sdks import FLAVOURS


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.mark.parametrize("flavour", ["oss2-v1", "v2-v4"])
def test_https_append_with_a_verified_certificate(start_server, certificate, monkeypatch, flavour):
    cert, key = certificate
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key))
    assert server.url.startswith("https://127.0.0.1:")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    sdk = FLAVOURS[flavour](server)
    expected = Crc64(0)
    expected.update(b"over tls")
    assert sdk.append("tls", 0, b"over tls") == (8, expected.crc)
    assert sdk.get("tls") == b"over tls"


def test_an_unknown_certificate_is_refused_by_the_client(start_server, certificate):
    cert, key = certificate
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key))
    sdk = FLAVOURS["oss2-v1"](server)
    with pytest.raises(Exception, match="(?i)certificate|ssl"):
        sdk.append("tls", 0, b"x")
