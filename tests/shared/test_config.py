import logging

import pytest

from shared.backends import GENERATOR_DEFAULTS, intra_threads, server_processes
from shared.config import ConfigError, load_config, warn_unread_environment
from shared.logs import LogFormat, configure_logging

DEFAULTS = {"PORT": 8001, "SWAGGER": True, "DEVICE": "auto", "RATIO": 0.5}


def test_defaults_then_environment_then_overrides():
    env = {"THEME_API_PORT": "9000", "THEME_API_DEVICE": "cpu", "X_DEVICE": "cuda", "X_SWAGGER": "off"}
    config = load_config(DEFAULTS, "X", {"RATIO": 0.25}, environ=env)
    assert config == {"PORT": 9000, "SWAGGER": False, "DEVICE": "cuda", "RATIO": 0.25}


def test_the_server_prefix_wins_over_the_suite_prefix():
    assert load_config(DEFAULTS, "X", environ={"X_PORT": "1", "THEME_API_PORT": "2"})["PORT"] == 1


@pytest.mark.parametrize("env", [{"X_PORT": "eighty"}, {"X_SWAGGER": "maybe"}, {"X_RATIO": "half"}])
def test_a_setting_of_the_wrong_type_is_named(env):
    with pytest.raises(ConfigError, match=next(iter(env))):
        load_config(DEFAULTS, "X", environ=env)


BOUNDS = {"PORT": (1, 65535), "RATIO": (0, 1)}


@pytest.mark.parametrize("env, message", [({"X_PORT": "0"}, "X_PORT=0: must be between 1 and 65535"),
                                          ({"X_RATIO": "1.5"}, "X_RATIO=1.5: must be between 0 and 1")])
def test_a_setting_outside_its_bounds_is_named_with_them(env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(DEFAULTS, "X", environ=env, bounds=BOUNDS)
    with pytest.raises(ConfigError, match="must be at least 1"):
        load_config(DEFAULTS, "X", {"PORT": -1}, bounds={"PORT": (1, None)})  # overrides too
    assert load_config(DEFAULTS, "X", environ={"X_RATIO": "1"}, bounds=BOUNDS)["RATIO"] == 1.0  # edges allowed
    for odd in ("nan", "inf"):  # nan passes every comparison
        with pytest.raises(ConfigError, match=f"X_RATIO={float(odd)!r}: must be a finite number"):
            load_config(DEFAULTS, "X", environ={"X_RATIO": odd}, bounds=BOUNDS)


def test_processes_default_to_two_on_cpu_one_with_a_gpu_and_share_the_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    cpu = {**GENERATOR_DEFAULTS, "DEVICE": "cpu"}
    assert server_processes(cpu) == 2
    assert server_processes({**cpu, "DEVICE": "cuda"}) == 1
    assert server_processes({**cpu, "PROCESSES": 3}) == 3
    assert intra_threads(cpu, "TORCH_THREADS") == 4  # 8 cores / (2 processes x 1 batch worker)
    assert intra_threads({**cpu, "BATCHING": False}, "TORCH_THREADS") == 4  # 8 cores / 2 processes
    assert intra_threads({**cpu, "BATCHING": False, "PROCESSES": 1}, "TORCH_THREADS") == 0  # torch's own
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert server_processes(cpu) == 1


def test_a_setting_under_its_bare_name_is_reported_as_not_read(caplog):
    defaults = {"HOST": "127.0.0.1", "PORT": 8001, "API_KEY": "", "DATA_DIR": "var"}
    env = {"API_KEY": "s3cret", "PORT": "9000", "THEME_X_PORT": "9001", "HOST": "myhost", "DATA_DIR": "d",
           "THEME_API_DATA_DIR": "e"}
    with caplog.at_level(logging.WARNING, logger="shared.config"):
        assert warn_unread_environment(defaults, "THEME_X", env) == ["API_KEY"]
    assert caplog.messages == ["API_KEY is set in the environment but not read: this server reads "
                               "THEME_X_API_KEY (or THEME_API_API_KEY)"]


def test_a_name_with_the_server_s_prefix_that_is_no_setting_is_reported(caplog):
    with caplog.at_level(logging.WARNING, logger="shared.config"):
        assert warn_unread_environment(DEFAULTS, "X", {"X_PORTS": "1", "X_PORT": "2", "Y_FOO": "3"}) == ["X_PORTS"]
    assert caplog.messages == ["X_PORTS is set in the environment but is no setting of this server (a typo?): "
                               "the README's configuration tables list them"]


def test_an_unknown_log_level_logs_everything_and_says_so(capsys, monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # restored afterwards, as is the level
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr("shared.logs._warned_level", False)
    configure_logging(LogFormat.DASH, "LOUD")
    assert root.level == logging.DEBUG
    configure_logging(LogFormat.DASH, "LOUD")  # as a worker does again
    out = capsys.readouterr().out
    assert out.count("WARNING - LOG_LEVEL='LOUD' is no level (DEBUG, INFO, WARNING, ERROR): DEBUG is logged") == 1


def test_a_server_started_with_a_bare_api_key_says_it_is_not_read(run_server, tmp_path, monkeypatch):
    monkeypatch.setenv("API_KEY", "s3cret")
    server = run_server("file_server", "FILE_SERVER", ROOT=tmp_path / "files")
    assert "API_KEY is set in the environment but not read: this server reads FILE_SERVER_API_KEY" in server.log()
