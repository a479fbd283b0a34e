"""Fixtures of the theme_generation tests: the server over loopback, the Kiwi splitter, the guide's article."""
from __future__ import annotations

import pytest

from tests.guide import article
from theme_generation.sentences import SentenceSplitter


@pytest.fixture(scope="session")
def guide_article() -> tuple[str, str]:
    return article()


@pytest.fixture(scope="session")
def splitter() -> SentenceSplitter:
    return SentenceSplitter.load()


@pytest.fixture(scope="session")
def server(run_server, t5_model_dir):
    """theme_generation on a free loopback port, with the test model and the shipped theme list."""
    return run_server("theme_generation", "THEME_GENERATION", T5_MODEL_DIR=t5_model_dir)
