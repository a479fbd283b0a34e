"""Fixtures shared by every test: real servers on loopback, started as their own processes.

``run_server(module, prefix, **settings)`` starts ``python -m <module>`` with ``<PREFIX>_<KEY>``
environment settings on a free 127.0.0.1 port, waits for ``GET /health``, and gives back a
``Server`` with its base URL and everything it printed (the log lines operators read).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_T5 = ROOT / "models" / "theme-t5"


MODEL_SERVERS = ("THEME_CLASSIFICATION", "THEME_GENERATION")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not in the server log:\n{self.log()[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(module: str, prefix: str, log_path: Path, timeout: float = 90.0, **settings) -> Server:
    if prefix in MODEL_SERVERS:  # one process unless a test asks for more: tests count one batcher's
        settings.setdefault("PROCESSES", 1)  # work (/health); the pm2 test runs the defaults (two)
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(port)}
    env.update({f"{prefix}_{key}": str(value) for key, value in settings.items()})
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{module} exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if requests.get(server.url + "/health", timeout=10).status_code == 200:
                return server
        except requests.RequestException:  # not listening yet, or busy loading
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{module} not ready in {timeout}s:\n{server.log()[-3000:]}")


@pytest.fixture(scope="session")
def t5_model_dir() -> Path:
    """The shipped default model (``make models`` rebuilds it); THEME_TEST_T5_DIR points elsewhere."""
    path = Path(os.environ.get("THEME_TEST_T5_DIR", DEFAULT_T5))
    assert (path / "config.json").is_file(), f"no T5 model at {path}: run `make models`"
    return path


@pytest.fixture(scope="session")
def run_server(tmp_path_factory):
    """Start servers for the session; all are stopped at its end."""
    started: list[Server] = []

    def run(module: str, prefix: str, **settings) -> Server:
        log_path = tmp_path_factory.mktemp(module) / "server.log"
        server = start_server(module, prefix, log_path, **settings)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()
