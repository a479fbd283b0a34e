"""file_server fixtures: three real servers over loopback (open, API-key protected, fully private)
and a raw HTTP client that sends paths exactly as written (requests would normalise ``..``)."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT, Server, free_port

KEY = "s3cret-key"
SMALL_LIMIT = 64 * 1024


@dataclass
class Store:
    """A running file_server and the folder it stores into."""

    server: Server
    root: Path

    @property
    def url(self) -> str:
        return self.server.url

    def leftovers(self) -> list[Path]:
        """Unfinished-upload temporary files anywhere in the store."""
        return [p for p in self.root.rglob(".upload-*.part")]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def raw(url: str, method: str, path: str, body: bytes | None = b"", headers: dict | None = None) -> Reply:
    """One request with ``path`` sent byte for byte as given; ``body=None`` sends no body at all
    (no ``Content-Length``, as ``curl -X PUT URL`` does)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        all_headers = {**({} if body is None else {"Content-Length": str(len(body))}), **(headers or {})}
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _start(run_server, tmp_path_factory, **settings) -> Store:
    base = tmp_path_factory.mktemp("file_store")
    root = base / "root"
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text("outside the store\n")
    return Store(run_server("file_server", "FILE_SERVER", ROOT=root, **settings), root)


@pytest.fixture(scope="session")
def store(run_server, tmp_path_factory) -> Store:
    """Defaults: no API key, the default size limit."""
    return _start(run_server, tmp_path_factory)


@pytest.fixture(scope="session")
def locked(run_server, tmp_path_factory) -> Store:
    """Writes need the API key; uploads are limited to SMALL_LIMIT bytes."""
    return _start(run_server, tmp_path_factory, API_KEY=KEY, MAX_UPLOAD_BYTES=SMALL_LIMIT)


@pytest.fixture(scope="session")
def private(run_server, tmp_path_factory) -> Store:
    """Reads need the API key too."""
    return _start(run_server, tmp_path_factory, API_KEY=KEY, API_KEY_FOR_READS=True)


def start_script(root: Path, log_path: Path, timeout: float = 30.0, **settings) -> subprocess.Popen:
    """``python file_server.py`` from inside file_server/, as pm2 runs it; returns once healthy."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FILE_SERVER_HOST": "127.0.0.1",
           "FILE_SERVER_PORT": str(port), "FILE_SERVER_ROOT": str(root)}
    env.update({f"FILE_SERVER_{k}": str(v) for k, v in settings.items()})
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "file_server.py"], cwd=ROOT / "file_server", env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    process.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(process.url + "/health", timeout=5).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.1)
    return process
