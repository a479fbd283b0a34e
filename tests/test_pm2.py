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
APPS = {"theme_classification_server": "THEME_CLASSIFICATION", "theme_generation_server": "THEME_GENERATION",
        "file_server": "FILE_SERVER"}
# pm2 7 prints "{id}|{name} | line", padding or cutting the name to its own width.
PM2_LINE = re.compile(r"^(\d+)\|(\S+)\s*\| (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
FORMATS = {  # the guide's two line formats
    "theme_classification_server": re.compile(rf"^{STAMP}\|\d+\|DEBUG\|(.*)$"),
    "theme_generation_server": re.compile(rf"^{STAMP} - DEBUG - (.*)$"),
    "file_server": re.compile(rf"^{STAMP} - DEBUG - (.*)$"),
}
MISSING_BODY = ['  "errors": {', '    "body": "Missing required parameter in the JSON body"']


@pytest.fixture(scope="module")
def pm2_suite(tmp_path_factory, t5_model_dir):
    home = tmp_path_factory.mktemp("pm2_home")
    env = {**os.environ, "PM2_HOME": str(home), "FILE_SERVER_ROOT": str(home / "files")}
    urls = {}
    for name, prefix in APPS.items():
        port = free_port()
        urls[name] = f"http://127.0.0.1:{port}"
        env[f"{prefix}_PORT"] = str(port)
        if prefix != "FILE_SERVER":
            env.update({f"{prefix}_T5_MODEL_DIR": str(t5_model_dir), f"{prefix}_DATA_DIR": str(home / name)})

    def pm2(*args, check=True):
        return subprocess.run([str(PM2), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120, check=check)

    pm2("start", "ecosystem.config.js")
    try:
        for url in urls.values():
            _wait_ready(url)
        yield pm2, urls
    finally:
        pm2("kill", check=False)


def _wait_ready(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/health", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready under pm2 in {timeout}s")


def pm2_log(pm2, name: str, needle: str, timeout: float = 20) -> list[str]:
    """The lines pm2 shows for ``name`` (its prefix checked and removed), once ``needle`` is among them."""
    deadline, lines = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        out = ANSI.sub("", pm2("logs", name, "--nostream", "--lines", "300").stdout)
        matches = [m for m in map(PM2_LINE.match, out.splitlines()) if m]
        lines = [m.group(3) for m in matches if name.startswith(m.group(2))]
        if any(needle in line for line in lines):
            return lines
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} not in pm2 logs of {name}:\n" + "\n".join(lines[-40:]))


def test_pm2_runs_all_three_servers(pm2_suite):
    pm2, _ = pm2_suite
    status = json.loads(pm2("jlist").stdout)
    assert {p["name"]: p["pm2_env"]["status"] for p in status} == {name: "online" for name in APPS}


@pytest.mark.parametrize("name, endpoint", [
    ("theme_classification_server", "tf_inference"),
    ("theme_generation_server", "generation"),
])
def test_text_server_logs_have_the_documented_format(pm2_suite, name, endpoint):
    pm2, urls = pm2_suite
    title, body = article()
    assert requests.post(f"{urls[name]}/{endpoint}", json={"title": title, "body": body}, timeout=120).ok
    assert requests.post(f"{urls[name]}/{endpoint}", json={"title": title}, timeout=60).status_code == 400
    lines = pm2_log(pm2, name, "[OPENAPI][400 BAD REQUEST] {")
    fmt = FORMATS[name]
    messages = [fmt.match(line).group(1) if fmt.match(line) else None for line in lines]
    arrival = messages.index(f"[OPENAPI] {endpoint}")
    separator = ":" if endpoint == "generation" else " :"  # as the guide writes each
    assert messages[arrival + 1] == f"{endpoint} title{separator} {title}"
    bad = max(i for i, m in enumerate(messages) if m == "[OPENAPI][400 BAD REQUEST] {")
    assert messages[bad - 1] == f"[OPENAPI] {endpoint}"
    assert lines[bad + 1:bad + 3] == MISSING_BODY


def test_file_server_logs_have_the_documented_format(pm2_suite):
    pm2, urls = pm2_suite
    assert requests.get(urls["file_server"] + "/files", timeout=30).status_code == 200
    lines = pm2_log(pm2, "file_server", "[OPENAPI] files")
    assert any(FORMATS["file_server"].match(line) for line in lines if line.endswith("[OPENAPI] files"))
