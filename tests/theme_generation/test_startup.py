"""Start-up: what will not load stops the process with the cause; one model directory loads once."""
from __future__ import annotations

import subprocess
import sys

import pytest

from shared.t5 import T5Generator
from tests.conftest import ROOT, free_port
from theme_generation.app import DEFAULTS, load_models


def _start(tmp_path, **settings) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "THEME_GENERATION_PORT": str(free_port()),
           **{f"THEME_GENERATION_{key}": str(value) for key, value in settings.items()}}
    return subprocess.run([sys.executable, "-m", "theme_generation"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_missing_model_stops_start_up_with_a_clear_log_line(tmp_path):
    done = _start(tmp_path, T5_MODEL_DIR=tmp_path / "no_model")
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "theme_generation could not start" in output
    assert f"no T5 model at {tmp_path / 'no_model'} (config.json missing)" in output


@pytest.mark.parametrize("setting, value, message", [
    ("MAX_SENTENCES", "many", "THEME_GENERATION_MAX_SENTENCES='many': expected an integer"),
    ("NUM_BEAMS", "0", "THEME_GENERATION_NUM_BEAMS=0: must be at least 1"),  # every /generation was a 500
    ("CLUSTER_THRESHOLD", "5", "THEME_GENERATION_CLUSTER_THRESHOLD=5.0: must be between 0 and 1"),
])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(tmp_path, setting, value, message):
    done = _start(tmp_path, **{setting: value})
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"ERROR - theme_generation could not start: {message}" in output
    assert "Traceback" not in output and "gunicorn" not in output  # refused before the server starts


def test_a_missing_theme_list_names_the_setting_and_stops_once(tmp_path):
    """Both worker processes fail to load; gunicorn halted on the first and raised the halt again on the
    second (exit 1 and two tracebacks) before the halt was made once."""
    done = _start(tmp_path, DEFAULT_THEME_LIST=tmp_path / "none.csv", PROCESSES=2)
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert f"could not start: THEME_GENERATION_DEFAULT_THEME_LIST={tmp_path / 'none.csv'}: No such file" in output
    assert "Traceback" not in output and "HaltServer" not in output


def test_a_positive_min_rel_score_stops_start_up(tmp_path):
    done = _start(tmp_path, MIN_REL_SCORE="0.5")
    assert done.returncode != 0
    assert "THEME_GENERATION_MIN_REL_SCORE=0.5: a log-probability, 0 or below" in done.stdout + done.stderr


def test_one_model_directory_named_twice_is_loaded_once(monkeypatch, tmp_path):
    loaded = []

    def fake_load(cls, path, device="auto"):
        loaded.append(path)
        return object()

    monkeypatch.setattr(T5Generator, "load", classmethod(fake_load))
    config = {**DEFAULTS, "T5_MODEL_DIR": str(tmp_path), "BATCHING": False}
    generator, relevance = load_models(config)
    assert generator is relevance and loaded == [tmp_path.resolve()]
    generator, relevance = load_models({**config, "GEN_MODEL_DIR": str(tmp_path / "gen"),
                                        "REL_MODEL_DIR": str(tmp_path / "rel")})
    assert generator is not relevance and loaded[1:] == [(tmp_path / "gen").resolve(), (tmp_path / "rel").resolve()]
