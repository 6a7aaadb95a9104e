"""Fixtures: a real oss-local-server process per test, and clients of both official SDKs."""

import os
import socket
import subprocess
import urllib.request
from pathlib import Path

import alibabacloud_oss_v2 as oss
import oss2
import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("OSS_LOCAL_SERVER", ROOT / "target" / "debug" / "oss-local-server"))
AK, SK, BUCKET = "test-ak", "test-secret-value", "test-bucket"
# Virtual-hosted requests need a host name; this suffix resolves to 127.0.0.1 in-process.
DOMAIN = "oss-cn-hangzhou.oss-test"


class LocalServer:
    def __init__(self, *extra, faults=True):
        args = [str(BINARY), "--access-key-id", AK, "--access-key-secret", SK, "--bucket", BUCKET,
                *(["--enable-faults"] if faults else []), *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.removeprefix("listening on ")
        self.port = int(self.url.rsplit(":", 1)[1])

    def control(self, method, path):
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request) as response:
            return response.read().decode()

    def fault(self, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        self.control("POST", "/-/faults?" + query)

    def pending_faults(self):
        return int(self.control("GET", "/-/faults").split()[1])

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def start_server():
    started = []

    def start(*extra, faults=True):
        server = LocalServer(*extra, faults=faults)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server):
    return start_server()


@pytest.fixture(autouse=True)
def resolve_test_domain(monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".oss-test"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def oss2_bucket(server, secret=SK, key_id=AK, token=None, virtual_hosted=False, bucket=BUCKET):
    """oss2 signs V1. An IP endpoint makes it use path style; a host name, virtual-hosted."""
    endpoint = f"http://{DOMAIN}:{server.port}" if virtual_hosted else server.url
    auth = oss2.StsAuth(key_id, secret, token) if token else oss2.Auth(key_id, secret)
    return oss2.Bucket(auth, endpoint, bucket)


def v2_client(server, version="v4", secret=SK, key_id=AK, token=None, virtual_hosted=False, attempts=None):
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(key_id, secret, token)
    cfg.region = "cn-hangzhou"
    cfg.signature_version = version
    if virtual_hosted:
        cfg.endpoint = f"http://{DOMAIN}:{server.port}"
    else:
        cfg.endpoint = server.url
        cfg.use_path_style = True
    if attempts:
        cfg.retry_max_attempts = attempts
    return oss.Client(cfg)
