"""A server that cannot load its model stops at once, with the cause in its log."""
import subprocess
import sys

from tests.conftest import ROOT, free_port


def test_a_missing_model_stops_start_up_with_a_clear_log_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "THEME_CLASSIFICATION_PORT": str(free_port()),
           "THEME_CLASSIFICATION_T5_MODEL_DIR": str(tmp_path / "no_model"),
           "THEME_CLASSIFICATION_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "theme_classification"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "theme_classification could not start" in output
    assert f"no T5 model at {tmp_path / 'no_model'} (config.json missing)" in output
