"""Faults: kill -9 under pm2, a crash in the middle of an upload, a corrupt model, a full disk.

pm2 runs from ecosystem.config.js with a PM2_HOME of the test's own, as in tests/test_pm2.py. Every
wait is bounded; every process started here is stopped (``pm2 kill``, ``Server.stop``).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import ROOT, free_port, start_server

PM2 = ROOT / "node_modules" / ".bin" / "pm2"
CLASSIFICATION = "theme_classification_server"
UPLOADED = "theme,stock,keywords\n로봇청소기,삼성전자,로봇청소기\n원전,두산에너빌리티,원전|SMR\n"


class Pm2:
    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env, "PM2_HOME": str(home)}

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(PM2), *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=120, check=check)

    def app(self, name: str) -> dict:
        [proc] = [p for p in json.loads(self("jlist").stdout) if p["name"] == name]
        return proc

    def log(self, name: str) -> str:
        return self("logs", name, "--nostream", "--lines", "500").stdout


@pytest.fixture
def pm2(tmp_path):
    runners: list[Pm2] = []

    def make(**env) -> Pm2:
        runner = Pm2(tmp_path / f"pm2_{len(runners)}", {k: str(v) for k, v in env.items()})
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner("kill", check=False)


def _wait(predicate, timeout: float, step: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := predicate():
                return value
        except (requests.RequestException, OSError, ValueError):
            pass
        time.sleep(step)
    raise AssertionError(f"not so within {timeout} s")


def _health(url: str) -> dict | None:
    r = requests.get(url + "/health", timeout=5)
    return r.json() if r.status_code == 200 else None


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _kill_9(master: int) -> None:
    """The whole server at once: its worker and its master."""
    for pid in [*_children(master), master]:
        os.kill(pid, signal.SIGKILL)


# -- kill -9 under pm2 --------------------------------------------------------------------------


def test_kill_9_under_pm2_is_back_within_30_s_with_the_last_accepted_list(pm2, t5_model_dir, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    run = pm2(THEME_CLASSIFICATION_PORT=port, THEME_CLASSIFICATION_T5_MODEL_DIR=t5_model_dir,
              THEME_CLASSIFICATION_DATA_DIR=tmp_path / "data")
    run("start", "ecosystem.config.js", "--only", CLASSIFICATION)
    _wait(lambda: _health(url), 180)
    assert requests.post(url + "/upload", files={"file": ("t.csv", UPLOADED.encode())}, timeout=60).json() == \
        {"result": "success"}
    master = run.app(CLASSIFICATION)["pid"]
    worker = _children(master)

    _kill_9(master)
    killed = time.monotonic()
    _wait(lambda: run.app(CLASSIFICATION)["pid"] not in (0, master) and _health(url), 60)
    back_in = time.monotonic() - killed

    assert back_in < 30, f"ready again after {back_in:.1f} s"
    assert run.app(CLASSIFICATION)["pm2_env"]["restart_time"] == 1
    assert not any(_alive(pid) for pid in [master, *worker])  # no orphan left holding the port
    assert _health(url)["theme_list"] == {"pairs": 2, "themes": 2, "stocks": 2, "source": "uploaded"}
    found = requests.post(url + "/tf_inference", json={"title": "삼성전자 로봇청소기", "body": "삼성전자가 로봇청소기를 낸다."},
                          timeout=60).json()
    assert [(m["theme"], m["stock"]) for m in found] == [("로봇청소기", "삼성전자")]


# -- a model that will not load -----------------------------------------------------------------


def _corrupt_models(tmp_path: Path, source: Path) -> dict[str, Path]:
    garbage = tmp_path / "garbage_config"
    shutil.copytree(source, garbage)
    (garbage / "config.json").write_text("{not json", encoding="utf-8")
    truncated = tmp_path / "truncated_weights"
    shutil.copytree(source, truncated)
    weights = truncated / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 3)
    return {"garbage config.json": garbage, "truncated model.safetensors": truncated}


def test_a_corrupt_model_stops_start_up_with_a_clear_log_line(t5_model_dir, tmp_path):
    started = {}
    for kind, model in _corrupt_models(tmp_path, t5_model_dir).items():
        for module, prefix in (("theme_classification", "THEME_CLASSIFICATION"), ("theme_generation", "THEME_GENERATION")):
            env = {"PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1", f"{prefix}_PORT": str(free_port()),
                   f"{prefix}_T5_MODEL_DIR": str(model), f"{prefix}_DATA_DIR": str(tmp_path / "data")}
            started[kind, module, model] = subprocess.Popen(
                [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True)
    for (kind, module, model), process in started.items():
        output, _ = process.communicate(timeout=180)
        assert process.returncode != 0, f"{module} started with a {kind}"
        line = f"{module} could not start: the T5 model at {model} could not be loaded"
        assert line in output, f"{kind}: {output[-2000:]}"


def test_pm2_backs_off_from_a_server_that_cannot_start(pm2, tmp_path, t5_model_dir):
    model = _corrupt_models(tmp_path, t5_model_dir)["garbage config.json"]
    run = pm2(THEME_CLASSIFICATION_PORT=free_port(), THEME_CLASSIFICATION_T5_MODEL_DIR=model,
              THEME_CLASSIFICATION_DATA_DIR=tmp_path / "data")
    run("start", "ecosystem.config.js", "--only", CLASSIFICATION)
    delays = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        env = run.app(CLASSIFICATION)["pm2_env"]
        delays.append(env.get("prev_restart_delay") or 0)
        time.sleep(1)
    restarts = env["restart_time"]
    # Each failed start takes 2-5 s (imports; less with a warm disk cache), so a tight loop would restart
    # 6-15 times in 30 s; with exp_backoff_restart_delay the waits grow 1 s, 1.5 s, 2.25 s ... (up to 15 s,
    # then pm2 gives up): at most 7 restarts even at 2 s a start. The count alone cannot tell back-off from
    # a tight loop at 5 s a start; the growing waits pm2 reports can.
    assert 1 <= restarts <= 7, restarts
    assert max(delays) >= 1500 and delays == sorted(delays), delays
    assert f"could not start: the T5 model at {model} could not be loaded" in run.log(CLASSIFICATION)


# -- a crash in the middle of an upload ---------------------------------------------------------


def _start_streaming(url: str, path: str, head: bytes, total: int, method: str = "POST") -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n".encode() + head)
    return sock


def test_a_crash_mid_upload_leaves_the_previous_list(t5_model_dir, tmp_path):
    settings = {"T5_MODEL_DIR": t5_model_dir, "DATA_DIR": tmp_path / "data"}
    server = start_server("theme_classification", "THEME_CLASSIFICATION", tmp_path / "1.log", **settings)
    try:
        assert requests.post(server.url + "/upload", files={"file": ("a.csv", UPLOADED.encode())}, timeout=60).ok
        rows = "".join(f"테마{i},종목{i}\n" for i in range(150_000)).encode()
        body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n\r\ntheme,stock\n'
                + rows + b"\r\n--b--\r\n")
        sock = _start_streaming(server.url, "/upload", b"Content-Type: multipart/form-data; boundary=b\r\n\r\n",
                                len(body))
        sock.sendall(body[: len(body) // 2])
        time.sleep(0.5)  # the server is reading the upload
        _kill_9(server.process.pid)
        server.process.wait(timeout=10)
        sock.close()
    finally:
        server.stop()
    again = start_server("theme_classification", "THEME_CLASSIFICATION", tmp_path / "2.log", **settings)
    try:
        assert _health(again.url)["theme_list"]["pairs"] == 2
        assert (tmp_path / "data" / "themes.csv").read_bytes().decode().startswith("theme,stock")
    finally:
        again.stop()


def test_a_crash_mid_upload_leaves_the_previous_file(tmp_path):
    root = tmp_path / "files"
    server = start_server("file_server", "FILE_SERVER", tmp_path / "1.log", ROOT=root)
    try:
        first = requests.put(server.url + "/files/themes/list.csv", data=UPLOADED.encode(), timeout=30).json()
        body = b"theme,stock\n" + b"x,y\n" * 4_000_000
        sock = _start_streaming(server.url, "/files/themes/list.csv", b"Content-Type: text/csv\r\n\r\n", len(body),
                                "PUT")
        sock.sendall(body[: len(body) // 2])
        time.sleep(0.5)
        assert list(root.rglob(".upload-*.part")), "the upload is not being written"
        _kill_9(server.process.pid)
        server.process.wait(timeout=10)
        sock.close()
    finally:
        server.stop()
    again = start_server("file_server", "FILE_SERVER", tmp_path / "2.log", ROOT=root)
    try:
        r = requests.get(again.url + "/files/themes/list.csv", timeout=30)
        assert r.content == UPLOADED.encode() and r.headers["ETag"] == f'"{first["sha256"]}"'
        assert not list(root.rglob(".upload-*.part"))  # the killed process's temporary file is gone
    finally:
        again.stop()


# -- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk():
    """Mount a 64 KiB tmpfs over a folder (needs root and mount rights; skipped otherwise)."""
    mounted: list[Path] = []

    def mount(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def test_a_full_disk_answers_507_and_keeps_serving(suite, tiny_disk, tmp_path):
    url = suite["theme_classification"].url
    data_dir = Path(suite["theme_classification"].settings["DATA_DIR"])
    before = _health(url)["theme_list"]
    tiny_disk(data_dir)
    big = "theme,stock,keywords\n" + "".join(f"테마{i},종목{i},키워드{i}\n" for i in range(5000))
    r = requests.post(url + "/upload", files={"file": ("big.csv", big.encode())}, timeout=60)
    assert r.status_code == 507 and "previous list stays active" in r.json()["error"]
    assert _health(url)["theme_list"] == before
    assert requests.post(url + "/tf_inference", json={"title": "삼성전자 반도체", "body": "HBM 양산"}, timeout=60).ok
    leftover = [p.name for p in data_dir.iterdir()]
    assert leftover in ([], [".themes.lock"])  # the temporary file went with the failure; the lock file stays

    files = suite["file_server"].url
    full = tiny_disk(Path(suite["file_server"].settings["ROOT"]) / "full")
    for headers, body in (({}, b"x" * 200_000), ({"Transfer-Encoding": "chunked"}, iter([b"x" * 50_000] * 4))):
        r = requests.put(files + "/files/full/big.bin", data=body, headers=headers, timeout=60)
        assert r.status_code == 507 and "disk" in r.json()["error"], r.text
    assert requests.put(files + "/files/full/small.csv", data=b"a,b\n", timeout=30).status_code == 201
    assert [p.name for p in full.iterdir()] == ["small.csv"]  # no temporary file left behind
    assert requests.get(files + "/health", timeout=30).status_code == 200
