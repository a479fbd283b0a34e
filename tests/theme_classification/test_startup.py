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


def test_an_uploaded_list_that_is_no_longer_accepted_is_named_at_start_up(tmp_path):
    """A list accepted by an older version (a code like A05930) stops start-up naming that file, not the
    default list."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "themes.csv").write_text("theme,stock,code\n유전자,툴젠,A05930\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "THEME_CLASSIFICATION_PORT": str(free_port()),
           "THEME_CLASSIFICATION_DATA_DIR": str(data), "THEME_CLASSIFICATION_PROCESSES": "1"}
    done = subprocess.run([sys.executable, "-m", "theme_classification"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert (f"could not start: the list last uploaded, {data / 'themes.csv'} (in THEME_CLASSIFICATION_DATA_DIR; "
            "fix it, or remove it to start with the default list): Row 2: column 'code' is 'A05930'") in output
    assert "DEFAULT_THEME_LIST" not in output
