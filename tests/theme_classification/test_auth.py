"""With API_KEY set, every request but /health needs X-API-Key; without it, 401 in the log too."""
import requests

from tests.conftest import ROOT


def test_api_key_guards_every_endpoint_but_health(run_server, t5_model_dir, tmp_path):
    server = run_server("theme_classification", "THEME_CLASSIFICATION", T5_MODEL_DIR=t5_model_dir,
                        DATA_DIR=tmp_path, DEFAULT_THEME_LIST=ROOT / "data" / "themes.csv", API_KEY="s3cret")
    body = {"title": "삼성전자 반도체", "body": "삼성전자가 HBM 양산을 시작했다."}
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "s3cret-and-more"}):
        r = requests.post(server.url + "/tf_inference", json=body, headers=headers, timeout=30)
        assert r.status_code == 401 and "X-API-Key" in r.json()["message"]
    assert requests.get(server.url + "/swagger.json", timeout=30).status_code == 401
    ok = requests.post(server.url + "/tf_inference", json=body, headers={"X-API-Key": "s3cret"}, timeout=30)
    assert ok.status_code == 200 and ok.json()[0]["stock"] == "삼성전자"
    assert requests.get(server.url + "/health", timeout=30).status_code == 200
    assert "[OPENAPI][401 UNAUTHORIZED] {" in server.wait_for_log("[OPENAPI][401 UNAUTHORIZED]")
