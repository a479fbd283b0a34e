"""theme_classification over real HTTP: the contract's shapes, every error case, the guide's numbers."""
import json
import re
from pathlib import Path

import pytest
import requests

from shared.candidates import article_candidates, article_text
from shared.pairs import NONE_SCORE
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from tests.conftest import ROOT
from tests.guide import article

TITLE, BODY = article()
MATCHER = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))  # the list the server starts with


def model_meta(model_dir: Path) -> dict:
    """The ``theme_model.json`` of the model the servers run."""
    path = Path(model_dir) / "theme_model.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def post(server, path, **kwargs):
    return requests.post(server.url + path, timeout=60, **kwargs)


def test_t5_inference_chooses_among_stocks_the_article_names(classification, t5_model_dir):
    r = post(classification, "/t5_inference", json={"title": TITLE, "body": BODY})
    assert r.status_code == 200
    pairs = r.json()
    assert isinstance(pairs, list), pairs  # how well the model chooses is tests/theme_models' concern
    for pair in pairs:
        assert set(pair) == {"theme", "stock", "score"}
        assert pair["stock"] in TITLE + BODY  # constrained decoding never invents a stock
        assert -30 < pair["score"] <= 0 and pair["score"] == round(pair["score"], 3)
    if model_meta(t5_model_dir).get("inputs") == "hints":  # a model trained on hints must be given them
        assert ("유전자 치료제/분석", "툴젠") in [(p["theme"], p["stock"]) for p in pairs]


def test_tf_inference_on_the_default_list(classification):
    r = post(classification, "/tf_inference", json={"title": TITLE, "body": BODY})
    assert r.status_code == 200
    by_stock = {m["stock"]: m for m in r.json()}
    assert by_stock["툴젠"]["theme"] == "유전자 치료제/분석"
    assert by_stock["툴젠"]["stock_count"] == 3
    for match in r.json():
        assert set(match) == {"theme", "stock", "score", "theme_count", "stock_count"}
        assert match["score"] <= 0 and match["theme_count"] >= 1 and match["stock_count"] >= 1


# Written for this test: a subject company with theme evidence, one named in passing, a quoted brokerage.
HBM_TITLE = "SK하이닉스, HBM 공급 확대로 사상 최대 실적"
HBM_BODY = ("SK하이닉스가 고대역폭메모리(HBM) 판매 호조에 힘입어 분기 최대 영업이익을 냈다. 회사는 차세대 HBM 양산을 "
            "앞당기고 반도체 설비 투자를 늘리기로 했다. 같은 날 현대차는 신차 발표회를 열었다. "
            "김철수 대신증권 연구원은 올해 메모리 업황이 좋을 것이라고 내다봤다.")


# Written for this test: an article on brokerages whose one sentence on 현대차 (which Naver also files under
# 증권, as the owner of 현대차증권) is about its cars.
CARS_TITLE = "실적 시즌 개막"
CARS_BODY = ("증권 업계는 실적 개선을 기대한다. 증권사들은 투자의견을 높였다. 증권 거래대금도 늘었다. "
             "현대차는 자동차 판매가 늘었다.")


# Written for this test: a story on a food maker that never writes a keyword of 음식료업종, only 식품 (a
# word of its business) in the company's own name.
FOOD_TITLE = "삼양식품, 역대 최고가 경신"
FOOD_BODY = "불닭볶음면 수출이 늘며 삼양식품 주가가 14% 올랐다. 밀양 2공장도 가동한다."


@pytest.mark.parametrize("title, body", [(TITLE, BODY), (HBM_TITLE, HBM_BODY), (CARS_TITLE, CARS_BODY),
                                         (FOOD_TITLE, FOOD_BODY)])
def test_theme_inference_is_the_t5_stocks_then_the_rule_tied_dictionary_stocks(classification, title, body):
    r = post(classification, "/theme_inference", json={"title": title, "body": body})
    assert r.status_code == 200
    out = r.json()
    assert set(out) == {"result", "t5_result", "tf_result"}
    tf = {m["stock"]: m for m in out["tf_result"]}
    t5_stocks = list(dict.fromkeys(p["stock"] for p in out["t5_result"]))
    candidates = {c.stock: c for c in article_candidates(MATCHER, article_text(title, body))}
    stocks = [p["stock"] for p in out["result"]]
    assert stocks[:len(t5_stocks)] == t5_stocks  # the T5's stocks first, in its order
    added = stocks[len(t5_stocks):]  # then every rule-tied stock it left out, each once
    assert sorted(added) == sorted({s for s, c in candidates.items() if c.tied} - set(t5_stocks))
    if title != CARS_TITLE:
        assert "대신증권" not in added and "현대차" not in added  # a quoted source, a passing mention
    if title == HBM_TITLE:
        assert "SK하이닉스" in t5_stocks + added
    if title == FOOD_TITLE:  # the dictionary finds no theme; the business word does
        assert not tf and [(p["theme"], p["stock"]) for p in out["result"]] == [("음식료업종", "삼양식품")]
    if title == CARS_TITLE:  # the dictionary's best theme for the whole article is not 현대차's here
        assert tf["현대차"]["theme"] == "증권"
        assert [(p["theme"], p["stock"]) for p in out["result"]] == [("자동차 대표주", "현대차")]
    for pair in out["result"]:
        offered = candidates[pair["stock"]].offered
        assert pair["theme"] in offered  # never a theme the rules do not offer the stock
        if pair["stock"] in tf and tf[pair["stock"]]["theme"] in offered:
            assert pair["from"] == "tf" and pair["theme"] == tf[pair["stock"]]["theme"]
            assert pair["score"] == tf[pair["stock"]]["score"]
        elif pair["stock"] in t5_stocks:
            assert pair["from"] == "t5"
        else:  # a rule-tied stock the T5 left out whose dictionary theme is not offered: the best offered one,
            assert pair["from"] == "tf" and pair["theme"] == offered[0]  # with the score the dictionary gives it
            score = MATCHER.theme_score(article_text(title, body), offered[0])
            assert pair["score"] == (NONE_SCORE if score is None else score) < 0


def test_an_article_without_listed_stocks_gives_empty_lists(classification):
    body = "오늘 서울은 맑고 기온은 영상 10도까지 오르겠다."
    assert post(classification, "/t5_inference", json={"title": "날씨", "body": body}).json() == []
    assert post(classification, "/tf_inference", json={"title": "날씨", "body": body}).json() == []


MISSING = "Missing required parameter in the JSON body"
INVALID = "Input payload validation failed"


@pytest.mark.parametrize("endpoint", ["/t5_inference", "/tf_inference", "/theme_inference"])
@pytest.mark.parametrize("payload, errors", [
    ({"title": TITLE}, {"body": MISSING}),
    ({"body": BODY}, {"title": MISSING}),
    ({}, {"title": MISSING, "body": MISSING}),
    ({"title": "툴젠", "body": "a"}, {"text": "text length is too short."}),
    ({"title": 7, "body": BODY}, {"title": "'title' must be a string."}),
    ({"title": TITLE, "body": ["a"]}, {"body": "'body' must be a string."}),
])
def test_invalid_requests_answer_the_contract_shape(classification, endpoint, payload, errors):
    r = post(classification, endpoint, json=payload)
    assert r.status_code == 400
    assert r.json() == {"errors": errors, "message": INVALID}


@pytest.mark.parametrize("kwargs", [
    {"data": "{not json", "headers": {"Content-Type": "application/json"}},
    {"data": "title=a&body=b"},
    {"data": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/json"}},
    {"json": ["title", "body"]},
    {"json": "title body"},
])
def test_a_body_that_is_not_a_json_object_is_a_400(classification, kwargs):
    r = post(classification, "/tf_inference", **kwargs)
    assert r.status_code == 400
    body = r.json()
    assert body["message"] == INVALID and "JSON object" in body["errors"]["json"]


def test_an_over_long_text_is_a_413_in_the_same_shape(classification):
    r = post(classification, "/t5_inference", json={"title": TITLE, "body": "가" * 20_001})
    assert r.status_code == 413
    assert r.json()["message"] == INVALID and "at most 20000" in r.json()["errors"]["text"]


def test_unknown_url_and_wrong_method_answer_json(classification):
    r = requests.get(classification.url + "/nope", timeout=10)
    assert r.status_code == 404 and "not found" in r.json()["message"]
    r = requests.get(classification.url + "/t5_inference", timeout=10)
    assert r.status_code == 405 and "not allowed" in r.json()["message"]


def test_health_touches_the_model_and_swagger_is_served(classification):
    health = requests.get(classification.url + "/health", timeout=10).json()
    assert health["status"] == "ok" and health["t5"]["device"] == "cpu"
    assert health["t5"]["forward_ms"] > 0
    assert health["theme_list"] == {"pairs": 7415, "themes": 268, "stocks": 2347, "source": "default"}
    assert health["uploads"] == {"writable": True}
    assert "swagger" in requests.get(classification.url + "/docs", timeout=10).text.lower()
    spec = requests.get(classification.url + "/swagger.json", timeout=10).json()
    assert {"/t5_inference", "/tf_inference", "/theme_inference", "/upload", "/health"} <= set(spec["paths"])


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\|\d+\|DEBUG\|(.*)$")


def test_log_lines_follow_the_guide(classification):
    post(classification, "/tf_inference", json={"title": TITLE, "body": BODY})
    post(classification, "/t5_inference", json={"title": TITLE})
    log = classification.wait_for_log('"body": "Missing required parameter in the JSON body"')
    lines = log.splitlines()
    messages = [m.group(1) for m in map(LOG_LINE.match, lines) if m]
    start = messages.index("[OPENAPI] tf_inference")
    assert messages[start:start + 5] == [
        "[OPENAPI] tf_inference",
        f"tf_inference title : {TITLE}",
        f"tf_inference body : {BODY}",
        "inference",
        "[OPENAPI][200 OK] [",
    ]
    # The response JSON follows, pretty-printed with Korean unescaped, as in the guide.
    i = lines.index(next(l for l in lines if l.endswith("|DEBUG|[OPENAPI][200 OK] [")))
    assert lines[i + 1:i + 3] == ["  {", '    "theme": "유전자 치료제/분석",'] or '"theme":' in lines[i + 2]
    assert "\\u" not in log
    # The guide's 1-2 example, line for line.
    j = max(k for k, l in enumerate(lines) if l.endswith("|DEBUG|[OPENAPI][400 BAD REQUEST] {"))
    assert LOG_LINE.match(lines[j - 1]).group(1) == "[OPENAPI] t5_inference"
    assert lines[j + 1:j + 6] == [
        '  "errors": {',
        '    "body": "Missing required parameter in the JSON body"',
        "  },",
        '  "message": "Input payload validation failed"',
        "}",
    ]


def test_inputs_cannot_forge_log_lines(classification):
    forged = "제목\n2023-06-16 16:42:05,897|1|DEBUG|[OPENAPI][200 OK] forged"
    post(classification, "/tf_inference", json={"title": forged, "body": "삼성전자 반도체 기사 본문"})
    log = classification.wait_for_log("tf_inference title : 제목\\n2023")
    assert not any(line.startswith("2023-06-16") for line in log.splitlines())
