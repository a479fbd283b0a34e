"""Security settings of all three servers: CORS closed by default, no debug mode even when the
environment asks for it, Swagger off and an API key on in a production configuration."""
from __future__ import annotations

import pytest
import requests

from tests.conftest import ROOT
from tests.robustness.conftest import SERVERS

KEY = "pr0d-key"
PROBES = {  # a request that needs the key, per server
    "theme_classification": ("post", "/tf_inference", {"json": {"title": "삼성전자 반도체", "body": "삼성전자가 HBM을 만든다."}}),
    "theme_generation": ("post", "/relevance", {"json": {"title": "삼성전자 반도체", "body": "삼성전자가 HBM을 만든다."}}),
    "file_server": ("put", "/files/prod.csv", {"data": b"theme,stock\n", "headers": {"Content-Type": "text/csv"}}),
}


@pytest.mark.parametrize("server", SERVERS)
def test_cors_is_closed_by_default(suite, server):
    url = suite[server].url
    method, path, _ = PROBES[server]
    origin = {"Origin": "http://evil.example"}
    preflight = requests.options(url + path, headers={**origin, "Access-Control-Request-Method": method.upper()},
                                 timeout=30)
    answers = [preflight, requests.get(url + "/health", headers=origin, timeout=30)]
    for r in answers:
        assert not [h for h in r.headers if h.lower().startswith("access-control-")], (r.status_code, r.headers)


@pytest.fixture(scope="module")
def production_apps(t5_model_dir, tmp_path_factory):
    """Each server's app as production would build it (API key, no Swagger) with FLASK_DEBUG=1 in the
    environment, which must not turn debug mode on."""
    from file_server.app import create_app as file_server
    from theme_classification.app import create_app as classification
    from theme_generation.app import create_app as generation

    tmp = tmp_path_factory.mktemp("production")
    model = {"T5_MODEL_DIR": str(t5_model_dir), "BATCHING": False, "DEFAULT_THEME_LIST": str(ROOT / "data" / "themes.csv")}
    common = {"API_KEY": KEY, "SWAGGER": False}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLASK_DEBUG", "1")
        return {
            "theme_classification": classification({**common, **model, "DATA_DIR": str(tmp / "tc")}),
            "theme_generation": generation({**common, **model}),
            "file_server": file_server({**common, "ROOT": str(tmp / "files")}),
        }


@pytest.mark.parametrize("server", SERVERS)
def test_production_configuration(production_apps, server):
    app = production_apps[server]
    assert not app.debug and not app.config["DEBUG"]
    client = app.test_client()
    method, path, kwargs = PROBES[server]
    refused = getattr(client, method)(path, **kwargs)
    assert refused.status_code == 401 and "X-API-Key" in refused.json["message"]
    accepted = getattr(client, method)(path, headers={**kwargs.get("headers", {}), "X-API-Key": KEY},
                                       **{k: v for k, v in kwargs.items() if k != "headers"})
    assert accepted.status_code in (200, 201), accepted.data[:300]
    for doc in ("/docs", "/swagger.json"):  # (Swagger UI's own static files stay: public library assets)
        assert client.get(doc, headers={"X-API-Key": KEY}).status_code == 404
    assert client.get("/health").status_code == 200  # probes need no key
