"""Fixtures of the robustness tests: the three servers, started once for the session, side by side.

The servers run with their default limits (the hostile inputs are sized against them) and data
directories of their own, so uploads here never touch another test's list.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT

SERVERS = {  # name: (module, settings prefix)
    "theme_classification": ("theme_classification", "THEME_CLASSIFICATION"),
    "theme_generation": ("theme_generation", "THEME_GENERATION"),
    "file_server": ("file_server", "FILE_SERVER"),
}


@pytest.fixture(scope="session")
def suite(run_server, t5_model_dir, tmp_path_factory):
    """``{name: Server}`` for the three servers, started in parallel (the two model servers take ~20 s)."""
    data = tmp_path_factory.mktemp("robustness")
    settings = {
        "theme_classification": {"T5_MODEL_DIR": t5_model_dir, "DATA_DIR": data / "tc",
                                 "DEFAULT_THEME_LIST": ROOT / "data" / "themes.csv"},
        "theme_generation": {"T5_MODEL_DIR": t5_model_dir, "DEFAULT_THEME_LIST": ROOT / "data" / "themes.csv"},
        "file_server": {"ROOT": data / "files"},
    }
    with ThreadPoolExecutor(len(SERVERS)) as pool:
        futures = {name: pool.submit(run_server, module, prefix, **settings[name])
                   for name, (module, prefix) in SERVERS.items()}
        servers = {name: future.result() for name, future in futures.items()}
    for name, server in servers.items():
        server.settings = settings[name]
    return servers
