"""The conda env files pin exactly what requirements.txt pins (the Makefile installs from the latter)."""
import re

import pytest

from tests.conftest import ROOT

PINS = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))


@pytest.mark.parametrize("server, env_name", [
    ("theme_classification", "twodigit_theme_t5"),
    ("theme_generation", "twodigit_theme_generation"),
    ("file_server", "file_server"),
])
def test_conda_env_pins_agree_with_requirements(server, env_name):
    text = (ROOT / f"environment-{server}.yml").read_text()
    assert re.search(rf"^name: {env_name}$", text, re.M)
    pins = dict(re.findall(r"^\s+- ([A-Za-z0-9_.-]+)==(\S+)$", text, re.M))
    assert pins and all(PINS.get(name) == version for name, version in pins.items()), pins
    if server != "file_server":
        assert pins == PINS
