"""The suite under the real pm2, from ecosystem.config.js, with a PM2_HOME of the test's own."""
import json
import os
import re
import subprocess
import time

import pytest
import requests

from tests.conftest import ROOT, free_port
from tests.guide import article

PM2 = ROOT / "node_modules" / ".bin" / "pm2"
APPS = {"theme_classification_server": "THEME_CLASSIFICATION", "file_server": "FILE_SERVER"}
MODEL_APPS = {"THEME_CLASSIFICATION"}
# pm2 7 prints "{id}|{name} | line", padding or cutting the name to its own width.
PM2_LINE = re.compile(r"^(\d+)\|(\S+)\s*\| (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PIPE_FORMAT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\|\d+\|(DEBUG|INFO|WARNING|ERROR)\|")


@pytest.fixture(scope="module")
def pm2_suite(tmp_path_factory, t5_model_dir):
    home = tmp_path_factory.mktemp("pm2_home")
    env = {**os.environ, "PM2_HOME": str(home)}
    ports = {}
    for prefix in APPS.values():
        ports[prefix] = free_port()
        env[f"{prefix}_PORT"] = str(ports[prefix])
        if prefix in MODEL_APPS:
            env.update({f"{prefix}_T5_MODEL_DIR": str(t5_model_dir), f"{prefix}_DATA_DIR": str(home / prefix.lower())})
    env["FILE_SERVER_ROOT"] = str(home / "files")

    def pm2(*args, check=True):
        return subprocess.run([str(PM2), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120, check=check)

    only = ",".join(APPS)
    pm2("start", "ecosystem.config.js", "--only", only)
    try:
        for prefix, port in ports.items():
            _wait_ready(f"http://127.0.0.1:{port}")
        yield pm2, ports
    finally:
        pm2("kill", check=False)


def _wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready under pm2 in {timeout}s")


def test_pm2_runs_the_suite_and_its_logs_have_the_documented_format(pm2_suite):
    pm2, ports = pm2_suite
    status = json.loads(pm2("jlist").stdout)
    assert {p["name"]: p["pm2_env"]["status"] for p in status} == {name: "online" for name in APPS}
    title, body = article()
    url = f"http://127.0.0.1:{ports['THEME_CLASSIFICATION']}"
    assert requests.post(url + "/tf_inference", json={"title": title, "body": body}, timeout=60).status_code == 200
    assert requests.post(url + "/tf_inference", json={"title": title}, timeout=60).status_code == 400
    deadline, lines = time.monotonic() + 15, []
    while time.monotonic() < deadline:
        logs = ANSI.sub("", pm2("logs", "theme_classification_server", "--nostream", "--lines", "200").stdout)
        lines = [m for m in map(PM2_LINE.match, logs.splitlines()) if m]
        if any("[OPENAPI][400 BAD REQUEST] {" in m.group(3) for m in lines):
            break
        time.sleep(0.5)
    ours = [m for m in lines if "theme_classification_server".startswith(m.group(2))]
    assert ours, logs
    messages = [m.group(3) for m in ours]
    arrival = next(i for i, text in enumerate(messages) if text.endswith("|DEBUG|[OPENAPI] tf_inference"))
    assert PIPE_FORMAT.match(messages[arrival])
    assert messages[arrival + 1].endswith(f"|DEBUG|tf_inference title : {title}")
    bad = max(i for i, text in enumerate(messages) if text.endswith("|DEBUG|[OPENAPI][400 BAD REQUEST] {"))
    assert PIPE_FORMAT.match(messages[bad])
    assert messages[bad + 1:bad + 3] == ['  "errors": {', '    "body": "Missing required parameter in the JSON body"']
