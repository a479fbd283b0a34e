"""Starting file_server the ways operators do, and refusing to start on a bad setting."""
from __future__ import annotations

import signal
import subprocess
import sys

import requests

from tests.conftest import ROOT, free_port
from tests.file_server.conftest import start_script


def test_file_server_py_runs_from_its_own_folder(tmp_path):
    """``cd file_server && pm2 start file_server.py --interpreter python``, minus pm2."""
    process = start_script(tmp_path / "store", tmp_path / "server.log")
    try:
        assert process.poll() is None, (tmp_path / "server.log").read_text()
        assert requests.put(process.url + "/files/themes/a.csv", data=b"theme,stock\n").status_code == 201
        assert (tmp_path / "store" / "themes" / "a.csv").read_bytes() == b"theme,stock\n"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def _start_and_fail(tmp_path, **settings) -> str:
    env = {"PATH": "/usr/bin:/bin", "FILE_SERVER_PORT": str(free_port()), **settings}
    result = subprocess.run([sys.executable, "-m", "file_server"], cwd=ROOT, env=env, timeout=60,
                            capture_output=True, text=True)
    assert result.returncode != 0
    return result.stdout + result.stderr


def test_a_key_for_reads_without_a_key_stops_the_server(tmp_path):
    out = _start_and_fail(tmp_path, FILE_SERVER_ROOT=str(tmp_path / "s"), FILE_SERVER_API_KEY_FOR_READS="1")
    assert "FILE_SERVER_API_KEY is empty" in out


def test_a_store_that_cannot_be_created_stops_the_server(tmp_path):
    (tmp_path / "a-file").write_text("in the way")
    out = _start_and_fail(tmp_path, FILE_SERVER_ROOT=str(tmp_path / "a-file" / "store"))
    assert "file_server could not start" in out


def test_the_server_needs_only_flask_restx_and_gunicorn():
    """environment-file_server.yml installs no ML stack: nothing heavy may creep into the imports."""
    code = ("import sys, file_server.app; "
            "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'sklearn', 'transformers', 'kiwipiepy') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
