"""`rediss://` with a private CA, as docs/security.md describes it: the API reaches a TLS-only
Redis port when the URL names the CA (`?ssl_ca_certs=PATH`), and refuses one it cannot verify:
an unknown CA, or a certificate for another name (checked by default, unlike redis-py 5)."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.processes import RedisServer, free_port
from tests.helpers.services import service_env, start_api


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (ca, certificate, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not on PATH (apt-get install openssl) to make test certificates")

    def run(*args: str | Path) -> None:
        subprocess.run([openssl, *map(str, args)], check=True, capture_output=True)

    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key = directory / "server.pem", directory / "server.key"
    request, san = directory / "server.csr", directory / "san"
    san.write_text("subjectAltName=IP:127.0.0.1\n")
    new_key = ("-newkey", "rsa:2048", "-nodes")
    run("req", "-x509", *new_key, "-days", "1", "-subj", "/CN=CA", "-keyout", ca_key, "-out", ca)
    run("req", *new_key, "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", request)
    run("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "1", "-extfile", san, "-out", cert)  # fmt: skip
    return ca, cert, key


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A redis-server with a TLS port (and its plain one, for its own start-up check)."""
    ca, cert, key = _certificates(tmp_path)
    tls_port = free_port()
    options = ["--tls-port", str(tls_port), "--tls-cert-file", str(cert)]
    options += ["--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)]
    options += ["--tls-auth-clients", "no"]
    server = RedisServer(tmp_path / "redis", options=options)
    server.start()
    yield tls_port, ca
    server.stop()


@pytest.mark.parametrize(
    ("host", "query", "ready"),
    [
        ("127.0.0.1", "?ssl_ca_certs={ca}", True),
        ("127.0.0.1", "", False),  # the certificate is checked: an unknown CA is not trusted
        ("localhost", "?ssl_ca_certs={ca}", False),  # and so is its name, by default
        ("localhost", "?ssl_ca_certs={ca}&ssl_check_hostname=false", True),  # unless told not to
    ],
    ids=["ca-given", "ca-missing", "name-mismatch", "name-check-off"],
)
def test_the_api_reaches_tls_redis_only_when_it_can_verify_it(
    tls_redis: tuple[int, Path], tmp_path: Path, host: str, query: str, ready: bool
) -> None:
    port, ca = tls_redis
    url = f"rediss://{host}:{port}/0" + query.format(ca=ca)
    api, api_url = start_api(service_env(url), tmp_path)
    try:
        answer = httpx.get(f"{api_url}/readyz", trust_env=False, timeout=10)
    finally:
        api.stop()
    if ready:
        assert answer.status_code == 200
    else:
        assert answer.status_code == 503
        assert "certificate verify failed" in api.log_text()
