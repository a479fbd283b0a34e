"""theme_generation over real HTTP: the contract's shapes, the guide's log lines, every error case.

The model under test may be a tiny random one (THEME_TEST_T5_DIR), so nothing here depends on which
pair it prefers: only on what constrained decoding guarantees (a stock the sentence names, one of its
listed themes), on the split, and on the contract. The few tests that check what the server gives
the shipped model, through that model's answers, are ``shipped_model_only``.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
from functools import cache

import pytest
import requests

from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from tests.conftest import ROOT, SHARED_DATA
from tests.guide import article
from tests.theme_generation.guide_examples import generation_sentences

TITLE, BODY = article()
NONE_ENTRY = {"theme": "없음", "stock": "없음", "score": -10}
MISSING = "Missing required parameter in the JSON body"
INVALID = "Input payload validation failed"
DASH_LINE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - DEBUG - "
shipped_model_only = pytest.mark.skipif("THEME_TEST_T5_DIR" in os.environ,
                                        reason="checks the shipped model's answers")


@cache
def matcher() -> TfidfMatcher:
    return TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))


def post(server, path, **kwargs):
    return requests.post(server.url + path, timeout=120, **kwargs)


def assert_logged_in_order(server, *lines: str) -> None:
    """Log lines starting so, in this order, in the dash format where they are ours."""
    log = server.wait_for_log(lines[-1])
    position = 0
    for line in lines:
        match = re.compile(rf"^(?:{DASH_LINE})?{re.escape(line)}", re.M).search(log, position)
        assert match, f"{line!r} not in the log after position {position}:\n{log[-3000:]}"
        position = match.end()


def check_pair(pair: dict, sentence: str) -> None:
    assert list(pair) == ["theme", "stock", "score"]
    if pair == NONE_ENTRY:
        return
    found = matcher().mentions(sentence)
    assert pair["stock"] in found, (pair, sentence)  # constrained decoding: a stock the sentence names
    assert pair["theme"] in matcher().themes.themes_of[pair["stock"]]
    assert -50 < pair["score"] <= 0 and pair["score"] == round(pair["score"], 3)


# -- /health, Swagger ---------------------------------------------------------------------------


def test_health_touches_the_model_and_the_splitter(server):
    r = requests.get(server.url + "/health", timeout=30)
    assert r.status_code == 200
    health = r.json()
    assert health["status"] == "ok" and health["generator"]["device"] in ("cpu", "cuda")
    assert "relevance" not in health  # one model directory, loaded once
    assert health["splitter"]["sentences"] == 2 and health["theme_list"]["themes"] > 0
    assert health["related_words"]["words"] > 1000 and health["related_words"]["min_similarity"] == 0.6


def test_swagger_documents_every_endpoint(server):
    spec = requests.get(server.url + "/swagger.json", timeout=30).json()
    assert {"/generation", "/inference", "/relevance", "/clustering", "/health"} <= set(spec["paths"])
    assert requests.get(server.url + "/docs", timeout=30).status_code == 200


def test_unknown_path_is_a_json_404(server):
    r = requests.get(server.url + "/nope", timeout=30)
    assert r.status_code == 404 and "message" in r.json()


# -- /generation --------------------------------------------------------------------------------


def test_generation_splits_the_guide_article_into_eight_sentences(server, t5_model_dir):
    r = post(server, "/generation", json={"title": TITLE, "body": BODY})
    assert r.status_code == 200
    result = r.json()
    assert [entry["idx"] for entry in result] == list(range(8))
    for idx, sentence in generation_sentences().items():
        assert result[idx]["sentence"] == sentence
    for entry in result:
        assert list(entry) == ["idx", "result", "sentence"]
        assert entry["result"], entry
        if NONE_ENTRY in entry["result"]:
            assert entry["result"] == [NONE_ENTRY]
        for pair in entry["result"]:
            check_pair(pair, entry["sentence"])
        if not matcher().mentions(entry["sentence"]):
            assert entry["result"] == [NONE_ENTRY]  # no listed stock named: 없음 without asking the model
        scores = {pair["score"] for pair in entry["result"]}
        assert len(scores) == 1  # the pairs of one generated sequence share its score
    assert result[7]["result"] == [NONE_ENTRY]  # as in the guide
    meta = t5_model_dir / "theme_model.json"
    if meta.is_file() and json.loads(meta.read_text(encoding="utf-8")).get("inputs") == "hints":  # trained on hints
        assert [pair["stock"] for pair in result[0]["result"]] == ["툴젠"]  # the title ties 툴젠 to a theme


def test_generation_logs_as_the_guide(server):
    post(server, "/generation", json={"title": TITLE, "body": BODY})
    assert_logged_in_order(server, "[OPENAPI] generation", f"generation title: {TITLE}",
                           f"generation body: {BODY}", "[OPENAPI][200 OK] [", "  {", '    "idx": 0,')
    log = server.log()
    for line in ("[OPENAPI] generation", f"generation title: {TITLE}", "[OPENAPI][200 OK] ["):
        assert re.search(rf"^{DASH_LINE}{re.escape(line)}$", log, re.M), line  # asctime - LEVEL - message


def test_a_long_article_is_capped_not_refused(server):
    body = " ".join([BODY] * 40)  # 280 sentences, ~16,000 characters
    r = post(server, "/generation", json={"title": TITLE, "body": body})
    assert r.status_code == 200
    result = r.json()
    assert len(result) == 64 and result[63]["idx"] == 63  # MAX_SENTENCES, title included
    server.wait_for_log("only the first 64 are analysed (MAX_SENTENCES)")


def test_a_title_without_body_sentences(server):
    r = post(server, "/generation", json={"title": "툴젠 유전자교정 기술이전", "body": ""})
    assert r.status_code == 200
    assert [entry["idx"] for entry in r.json()] == [0]


@shipped_model_only
def test_generation_answers_every_sentence_that_names_a_stock_the_article_ties_to_a_theme(server):
    """Asked with 없음 allowed, the shipped generator answers 없음 for both sentences naming 두산에너빌리티
    (seen). The article names it twice, once beside 원전, so it is tied to 원전 and the server does not
    allow 없음 there (``generate_outputs(answer_tied=True)``); /inference keeps the related ones."""
    title = "원전 수출 기대감"
    body = ("체코 원전 수주 기대감이 커졌다. 두산에너빌리티는 원전 주기기를 공급한다. "
            "두산에너빌리티 주가는 5% 올랐다. 정부는 원전 수출을 지원할 계획이다.")
    generated = post(server, "/generation", json={"title": title, "body": body}).json()
    naming = [entry for entry in generated if "두산에너빌리티" in entry["sentence"]]
    assert len(naming) == 2
    assert all({p["stock"] for p in entry["result"]} == {"두산에너빌리티"} for entry in naming), naming
    inferred = post(server, "/inference", json={"title": title, "body": body}).json()
    assert "두산에너빌리티" in {p["stock"] for p in inferred}


@shipped_model_only
def test_generation_leaves_out_no_stock_the_article_ties_to_a_theme(server):
    """Of the three car makers in the second sentence the shipped generator names 현대차 and 기아 (seen);
    현대모비스, named twice beside 자동차, is tied, so the server asks again for it alone and joins the
    answers, which share the lower score (``left_out_outputs``)."""
    title = "트럼프 관세 우려에 자동차株 하락"
    body = ("자동차 관세 우려가 커졌다. 현대차는 3% 하락했고 기아와 현대모비스도 떨어졌다. "
            "현대모비스는 자동차 부품 수출 비중이 높다. 기아는 미국 자동차 판매가 많다.")
    generated = post(server, "/generation", json={"title": title, "body": body}).json()
    [entry] = [e for e in generated if e["sentence"] == "현대차는 3% 하락했고 기아와 현대모비스도 떨어졌다."]
    assert [p["stock"] for p in entry["result"]] == ["현대차", "기아", "현대모비스"]
    assert len({p["score"] for p in entry["result"]}) == 1


# -- /inference ---------------------------------------------------------------------------------


def test_inference_is_generation_filtered_by_relevance(server):
    generated = post(server, "/generation", json={"title": TITLE, "body": BODY}).json()
    r = post(server, "/inference", json={"title": TITLE, "body": BODY})
    assert r.status_code == 200
    sentence_index = {entry["sentence"]: entry["idx"] for entry in generated}
    positions = []
    for pair in r.json():
        assert list(pair) == ["theme", "stock", "score", "gen_score", "rel_score", "sentence"]
        assert pair["theme"] != "없음"
        assert pair["score"] == round(pair["gen_score"] + pair["rel_score"], 3)
        assert pair["rel_score"] <= 0
        idx = sentence_index[pair["sentence"]]
        source = {(p["theme"], p["stock"], p["score"]) for p in generated[idx]["result"]}
        assert (pair["theme"], pair["stock"], pair["gen_score"]) in source
        positions.append(idx)
    assert positions == sorted(positions)  # ordered by sentence


@shipped_model_only
@pytest.mark.parametrize("title, body, sentence, pair", [
    ("조종사 대화·경고음 다 담겼다",  # the title never names the airline its article keeps naming
     "제주항공 여객기 참사의 원인을 밝힐 블랙박스 작업이 속도를 내고 있다. "
     "제주항공은 항공편 운항을 줄이고 유가족 지원에 전념하겠다고 밝혔다. 항공 업계는 국토교통부 발표를 기다리고 있다.",
     "제주항공 여객기 참사의 원인을 밝힐 블랙박스 작업이 속도를 내고 있다.", ("항공/저가 항공사(LCC)", "제주항공")),
    ("재계, 수출 최대에도 못 웃는다",  # nor the theme its article keeps writing
     "반도체 수출이 크게 늘었다. 반도체 업황은 올해도 좋을 전망이다. 삼성전자는 미국 공장 투자를 이어간다. "
     "반도체 관세가 변수다.",
     "삼성전자는 미국 공장 투자를 이어간다.", ("반도체 대표주(생산)", "삼성전자")),
], ids=["stock-not-in-title", "theme-not-in-title"])
def test_inference_relates_a_sentence_to_what_the_title_s_article_is_about(server, title, body, sentence, pair):
    """/inference asks whether a sentence is related to the title as the head of its article: the stocks
    and themes the article keeps returning to are the title's too (``shared.candidates.article_subjects``).
    /relevance, given the title and the sentence alone, calls the same sentence unrelated."""
    found = [(p["theme"], p["stock"]) for p in post(server, "/inference", json={"title": title, "body": body}).json()
             if p["sentence"] == sentence]
    assert found == [pair]
    assert post(server, "/relevance", json={"title": title, "body": sentence}).json()["result_text"] == "unrelated"


WRAP_TITLE = "코스피, 외국인 순매수에 2600선 회복…코스닥은 약보합"
WRAP_BODY = ("코스피가 외국인 순매수에 힘입어 2600선을 회복했다. 개인은 2000억원어치를 팔았다. "
             "로봇주 가운데 레인보우로보틱스(6.1%), 두산로보틱스(4.4%), 휴림로봇(3.3%)이 상승했다. "
             "원·달러 환율은 1450원에 마감했다.")
WRAP_LIST = "로봇주 가운데 레인보우로보틱스(6.1%), 두산로보틱스(4.4%), 휴림로봇(3.3%)이 상승했다."


@pytest.fixture(scope="module")
def lenient_server(run_server, t5_model_dir):
    """MIN_REL_SCORE=-1: /inference keeps every sentence with pairs (the shipped relevance model never
    scores related below -1)."""
    return run_server("theme_generation", "THEME_GENERATION", T5_MODEL_DIR=t5_model_dir, MIN_REL_SCORE=-1.0)


@shipped_model_only
def test_min_rel_score_decides_on_a_sentence_the_relevance_model_calls_unrelated(server, lenient_server):
    """A market wrap's list of a sector's movers: the shipped relevance model answers it unrelated to
    the title, with related scoring about -0.73. The default MIN_REL_SCORE (-0.6) drops it; -1 keeps it,
    with that score as rel_score."""
    def listed(answer):
        return {p["stock"]: p["rel_score"] for p in answer.json() if p["sentence"] == WRAP_LIST}
    assert listed(post(server, "/inference", json={"title": WRAP_TITLE, "body": WRAP_BODY})) == {}
    kept = listed(post(lenient_server, "/inference", json={"title": WRAP_TITLE, "body": WRAP_BODY}))
    assert set(kept) == {"레인보우로보틱스", "두산로보틱스", "휴림로봇"}
    assert all(-1.0 <= score < -0.6 for score in kept.values())


def test_inference_logs_as_the_guide(server):
    post(server, "/inference", json={"title": TITLE, "body": BODY})
    assert_logged_in_order(server, "[OPENAPI] inference", f"inference title : {TITLE}",
                           f"inference body : {BODY}", "[OPENAPI][200 OK] [")


# -- /relevance ---------------------------------------------------------------------------------


def test_relevance_answers_the_contract_shape(server):
    r = post(server, "/relevance", json={"title": TITLE, "body": BODY})
    assert r.status_code == 200
    answer = r.json()
    assert list(answer) == ["result", "result_text", "score"]
    assert (answer["result"], answer["result_text"]) in ((1, "related"), (0, "unrelated"))
    assert answer["score"] <= 0 and answer["score"] == round(answer["score"], 3)
    assert_logged_in_order(server, "[OPENAPI] relevance", f"relevance input1 : {TITLE}",
                           f"relevance input2 : {BODY}", "[OPENAPI][200 OK] {", f'  "result": {answer["result"]},')


@shipped_model_only
@pytest.mark.parametrize("sentence, expected", [
    ("SK하이닉스는 이날 5% 넘게 올랐다.", "related"),  # no title word, but a member of the title's theme
    ("올여름 해수욕장 방문객이 지난해보다 크게 늘었다.", "unrelated"),
])
def test_relevance_reads_the_subjects_title_and_sentence_share(server, sentence, expected):
    """The shipped model calls a pair related on what the two share (``공통: ``): the server must give it
    the stocks and themes they share, not only their common words (with words alone both are unrelated)."""
    r = post(server, "/relevance", json={"title": "반도체 업황 회복 기대감 커져", "body": sentence})
    assert r.status_code == 200 and r.json()["result_text"] == expected


@shipped_model_only
@pytest.mark.parametrize("sentence, expected", [
    ("달러 강세로 환율이 1450원을 넘어섰다.", "related"),  # nothing shared: the corpus puts 원화 and 환율 together
    ("올여름 해수욕장 방문객이 지난해보다 크게 늘었다.", "unrelated"),
])
def test_relevance_reads_the_related_words_of_the_model(server, sentence, expected):
    """A title and a sentence that share no word, stock or theme: the server must give the model the
    related words its directory carries (``shared.related``; without them both are unrelated)."""
    r = post(server, "/relevance", json={"title": "원화 약세 지속", "body": sentence})
    assert r.status_code == 200 and r.json()["result_text"] == expected


def test_relevance_truncates_over_long_input(server):
    r = post(server, "/relevance", json={"title": TITLE * 20, "body": BODY * 30})
    assert r.status_code == 200 and r.json()["result_text"] in ("related", "unrelated")


# -- validation, identical on every text endpoint -----------------------------------------------

TEXT_ENDPOINTS = ["/generation", "/inference", "/relevance"]


@pytest.mark.parametrize("endpoint", TEXT_ENDPOINTS)
@pytest.mark.parametrize("payload, errors", [
    ({"title": TITLE}, {"body": MISSING}),
    ({"body": BODY}, {"title": MISSING}),
    ({}, {"title": MISSING, "body": MISSING}),
    ({"title": "툴젠", "body": "a"}, {"text": "text length is too short."}),
    ({"title": 7, "body": BODY}, {"title": "'title' must be a string."}),
    ({"title": TITLE, "body": None}, {"body": MISSING}),
])
def test_invalid_requests_answer_the_contract_shape(server, endpoint, payload, errors):
    r = post(server, endpoint, json=payload)
    assert r.status_code == 400
    assert r.json() == {"errors": errors, "message": INVALID}


@pytest.mark.parametrize("endpoint", TEXT_ENDPOINTS)
@pytest.mark.parametrize("kwargs", [
    {"data": "{not json", "headers": {"Content-Type": "application/json"}},
    {"data": "title=a&body=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {"json": ["title", "body"]},
])
def test_a_body_that_is_not_a_json_object_is_a_400(server, endpoint, kwargs):
    r = post(server, endpoint, **kwargs)
    assert r.status_code == 400
    assert r.json()["message"] == INVALID and "json" in r.json()["errors"]


@pytest.mark.parametrize("endpoint", TEXT_ENDPOINTS)
def test_text_beyond_max_text_chars_is_a_413(server, endpoint):
    r = post(server, endpoint, json={"title": TITLE, "body": "가" * 200_000})
    assert r.status_code == 413
    assert r.json()["message"] == INVALID and "at most 200000" in r.json()["errors"]["text"]


def test_a_missing_field_logs_as_the_guide(server):
    post(server, "/generation", json={"title": TITLE})
    assert_logged_in_order(server, "[OPENAPI] generation", "[OPENAPI][400 BAD REQUEST] {", '  "errors": {',
                           f'    "body": "{MISSING}"', "  },", f'  "message": "{INVALID}"', "}")


# -- /clustering --------------------------------------------------------------------------------


@cache
def news_articles(count: int = 6) -> tuple[tuple[str, str, str], ...]:
    """(id, title, body) of the first articles of the shared news sample that name a listed stock."""
    csv.field_size_limit(16 * 1024 * 1024)
    found = []
    with open(SHARED_DATA / "news_naver_finance_2025" / "articles.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if len(row["body"]) < 3000 and matcher().mentions(row["title"] + " " + row["body"]):
                found.append((row["id"], row["title"], row["body"]))
                if len(found) == count:
                    break
    return tuple(found)


def to_csv(rows: list[tuple[str, object]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["objid", "result"])
    for objid, result in rows:
        writer.writerow([objid, result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)])
    return out.getvalue().encode(encoding)


@pytest.fixture(scope="module")
def analysed(server) -> list[tuple[str, object]]:
    """Real answers of this server: /inference for the guide article and news articles, and /generation
    for the same (accepted too), so the CSV holds pairs whatever the model under test prefers."""
    rows = []
    for objid, title, body in (("id0250003263005", TITLE, BODY), *news_articles()):
        rows.append((objid, post(server, "/inference", json={"title": title, "body": body}).json()))
        rows.append((objid + "-g", post(server, "/generation", json={"title": title, "body": body}).json()))
    return rows


def expected_pairs(rows) -> set[tuple[str, str]]:
    """(objid, stock) of every non-없음 pair in the rows."""
    found = set()
    for objid, result in rows:
        for item in result:
            for pair in item.get("result", [item]):
                if pair["theme"] != "없음":
                    found.add((objid, pair["stock"]))
    return found


def test_clustering_of_real_inference_outputs(server, analysed):
    r = post(server, "/clustering", files={"file": ("articles.csv", to_csv(analysed), "text/csv")})
    assert r.status_code == 200
    groups = r.json()
    assert r.headers["X-Rows-Total"] == str(len(analysed)) and r.headers["X-Rows-Skipped"] == "0"
    assert [g["count"] for g in groups] == sorted((g["count"] for g in groups), reverse=True)
    seen = set()
    for group in groups:
        assert list(group) == ["theme", "count", "companies"]
        assert group["count"] == sum(c["count"] for c in group["companies"])
        for company in group["companies"]:
            assert list(company) == ["stock", "count", "objids"]
            assert company["count"] == len(company["objids"]) == len(set(company["objids"]))
            seen |= {(objid, company["stock"]) for objid in company["objids"]}
    assert seen == expected_pairs(analysed)  # every pair of every row, none invented
    assert_logged_in_order(server, "[OPENAPI] clustering", "[OPENAPI][200 OK] [" + ("" if groups else "]"))


def test_clustering_accepts_cp949_and_theme_inference_shapes(server, analysed):
    utf8 = post(server, "/clustering", files={"file": ("a.csv", to_csv(analysed))}).json()
    cp949 = post(server, "/clustering", files={"file": ("a.csv", to_csv(analysed, encoding="cp949"))}).json()
    assert cp949 == utf8
    wrapped = [(objid, {"result": result, "t5_result": [], "tf_result": []}) for objid, result in analysed
               if not objid.endswith("-g")]
    r = post(server, "/clustering", files={"file": ("a.csv", to_csv(wrapped))})
    assert r.status_code == 200


def test_clustering_merges_near_duplicate_names(server):
    rows = [("id1", [{"theme": "2차전지", "stock": "LG에너지솔루션", "score": -0.1}]),
            ("id2", [{"theme": "2차 전지", "stock": "LG에너지솔루션", "score": -0.1}]),
            ("id3", [{"theme": "이차전지", "stock": "삼성SDI", "score": -0.1}]),
            ("id4", [{"theme": "2차전지주", "stock": "LG에너지솔루션", "score": -0.1},
                     {"theme": "해운", "stock": "HMM", "score": -0.2}])]
    r = post(server, "/clustering", files={"file": ("a.csv", to_csv(rows))})
    assert r.json() == [
        {"theme": "2차전지", "count": 4, "companies": [
            {"stock": "LG에너지솔루션", "count": 3, "objids": ["id1", "id2", "id4"]},
            {"stock": "삼성SDI", "count": 1, "objids": ["id3"]}]},
        {"theme": "해운", "count": 1, "companies": [{"stock": "HMM", "count": 1, "objids": ["id4"]}]},
    ]


def test_unreadable_rows_are_counted_and_reported(server, analysed):
    rows = [*analysed[:2], ("bad1", "not json at all"), ("bad2", json.dumps({"no": "result"})), *analysed[2:4]]
    r = post(server, "/clustering", files={"file": ("a.csv", to_csv(rows))})
    assert r.status_code == 200
    assert (r.headers["X-Rows-Total"], r.headers["X-Rows-Skipped"], r.headers["X-Skipped-Lines"]) == ("6", "2", "4,5")
    assert all("bad" not in objid for g in r.json() for c in g["companies"] for objid in c["objids"])
    server.wait_for_log("clustering: 2 of 6 rows could not be read and were left out: line 4: result is not JSON")


@pytest.mark.parametrize("files, message", [
    ({"file": ("a.csv", b"objid,text\nid1,[]\n")}, "The CSV has no 'result' column"),
    ({"file": ("a.csv", b"id_x,result\nid1,[]\n")}, "The CSV has no 'objid' column"),
    ({"file": ("a.csv", b"")}, "The file is empty"),
    ({"file": ("a.csv", b"objid,result\n")}, "The CSV has a header but no rows."),
    ({"file": ("a.csv", b"objid,result\nid1,oops\n")}, "No row could be read (1 rows): line 2: result is not JSON"),
    ({"file": ("a.xlsx", b"PK\x03\x04\x00\x00binary")}, "The file is binary"),
    ({"other": ("a.csv", b"objid,result\n")}, "No file: send the CSV as the multipart form field 'file'"),
    ([("file", ("a.csv", b'objid,result\nid1,"[]"\n')), ("file", ("b.csv", b'objid,result\nid2,"[]"\n'))],
     "2 files in the field 'file': send one CSV of articles per upload."),
])
def test_unusable_uploads_are_a_clear_400(server, files, message):
    r = post(server, "/clustering", files=files)
    assert r.status_code == 400
    assert list(r.json()) == ["error"] and r.json()["error"].startswith(message)


def test_a_clustering_error_logs_as_the_guide(server):
    post(server, "/clustering", files={"file": ("a.csv", b"objid,text\nid1,[]\n")})
    assert_logged_in_order(server, "[OPENAPI] clustering", "[OPENAPI][400 BAD REQUEST] {",
                           '  "error": "The CSV has no \'result\' column')
