"""The station ↔ center link over HTTPS with a pinned CA: a station trusting the site's CA
talks to the api; one given another CA refuses before sending anything and says why, and
`station agent` does not start."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.app import create_app
from api.settings import ApiSettings
from station.api_client import ApiClient, ApiError, UntrustedApi
from storage.catalogue.db import session_scope, upgrade
from storage.catalogue.tokens import create_token
from tests.station_processes import STATION


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert


def _server_cert(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, folder: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evidence-api")]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        ), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (folder / "api.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "api.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip


@pytest.fixture
def https_api(tmp_path: Path) -> Iterator[tuple[str, str, Path, Path]]:
    """The api over HTTPS on a free port: its address, a station token, the site's CA and
    another CA that did not sign it."""
    site_key, site_ca = _ca("site CA")
    _, other_ca = _ca("some other CA")
    _server_cert(site_key, site_ca, tmp_path)
    for name, cert in (("site-ca.pem", site_ca), ("other-ca.pem", other_ca)):
        (tmp_path / name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    database_url = f"sqlite:///{tmp_path}/catalogue.db"
    upgrade(database_url)
    with session_scope(database_url) as session:
        token = create_token(session, role="station", station_id="dock-tls", name="dock-tls")
    app = create_app(ApiSettings(database_url=database_url,
                                 storage_url=(tmp_path / "objects").as_uri()))  # fmt: skip
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(
        app, log_level="warning", ssl_certfile=str(tmp_path / "api.crt"),
        ssl_keyfile=str(tmp_path / "api.key"), http="h11", ws="none",
    ))  # fmt: skip
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        threading.Event().wait(0.025)
    assert server.started
    try:
        yield (
            f"https://127.0.0.1:{port}",
            token,
            tmp_path / "site-ca.pem",
            tmp_path / "other-ca.pem",
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_a_station_pinned_to_the_sites_ca_talks_and_to_another_refuses(
    https_api: tuple[str, str, Path, Path],
) -> None:
    url, token, site_ca, other_ca = https_api
    trusted = ApiClient.connect(url, token, site_ca)
    trusted.check_trust()
    trusted.heartbeat("dock-tls", {"online": True, "version": "test"})
    trusted.close()

    wrong = ApiClient.connect(url, token, other_ca)
    with pytest.raises(UntrustedApi, match="other-ca.pem did not sign"):
        wrong.check_trust()
    # Every call says why too (the agent's log and status page carry it).
    with pytest.raises(ApiError, match="did not sign .*STATION_API_CA_FILE"):
        wrong.heartbeat("dock-tls", {"online": True, "version": "test"})
    wrong.close()
    with pytest.raises(ValueError, match="cannot read the api's CA certificate"):
        ApiClient.connect(url, token, site_ca.with_name("missing.pem"))


def test_an_agent_given_the_wrong_ca_does_not_start_and_says_why(
    https_api: tuple[str, str, Path, Path], tmp_path: Path
) -> None:
    url, token, _, other_ca = https_api
    env = {**os.environ, "STATION_API_URL": url, "STATION_API_TOKEN": token,
           "STATION_API_CA_FILE": str(other_ca), "STATION_ID": "dock-tls",
           "STATION_STATE_DIR": str(tmp_path / "state"), "STATION_MOUNT_ROOTS": str(tmp_path),
           "STATION_STORAGE_URL": (tmp_path / "objects").as_uri(), "STATION_STATUS_PORT": "0",
           "COLUMNS": "300"}  # fmt: skip
    agent = subprocess.run([STATION, "agent"], env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert agent.returncode == 2, agent.stdout + agent.stderr
    assert "管理平台的证书不可信，已拒绝连接" in agent.stdout + agent.stderr
