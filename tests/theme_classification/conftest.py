import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def classification(run_server, t5_model_dir, tmp_path_factory):
    """A theme_classification server with the shipped model and its own data directory."""
    data_dir = tmp_path_factory.mktemp("tc_data")
    server = run_server("theme_classification", "THEME_CLASSIFICATION",
                        T5_MODEL_DIR=t5_model_dir, DATA_DIR=data_dir, DEFAULT_THEME_LIST=ROOT / "data" / "themes.csv")
    server.data_dir = data_dir
    return server
