"""Settings the store cannot run with stop it at once, in one log line naming them."""
import subprocess
import sys

from tests.conftest import ROOT, free_port


def test_zero_threads_stops_start_up_with_one_line(tmp_path):
    """It was a worker's traceback (``max_workers must be greater than 0``) naming no setting."""
    env = {"PATH": "/usr/bin:/bin", "FILE_SERVER_PORT": str(free_port()), "FILE_SERVER_ROOT": str(tmp_path),
           "FILE_SERVER_THREADS": "0"}
    done = subprocess.run([sys.executable, "-m", "file_server"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "ERROR - file_server could not start: FILE_SERVER_THREADS=0: must be at least 1" in output
    assert "Traceback" not in output
