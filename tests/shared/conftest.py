import pytest


@pytest.fixture(scope="session")
def ct2_model_dir(t5_model_dir, tmp_path_factory):
    """The shipped model converted for CTranslate2, as ``make ct2`` does (into a temporary directory)."""
    pytest.importorskip("ctranslate2", reason="ctranslate2 is not installed: the CTranslate2 backend is optional "
                                              "(pip install -r requirements.txt installs it)")
    from shared.ct2 import convert

    return convert(t5_model_dir, tmp_path_factory.mktemp("ct2") / "theme-t5-ct2")
