"""The default model committed in models/theme-t5 loads and answers each task sensibly.

The sentences are written for this test (no article text): a company with its theme, a brokerage
analyst's remark, an unrelated sentence.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from shared.candidates import (RELATED, RELEVANCE_OUTPUTS, UNRELATED, article_text, classify_outputs, classify_source,
                               generate_outputs, generate_source, relevance_source)
from shared.pairs import NONE, parse_pairs
from shared.t5 import T5Generator
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from tests.guide import article

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "theme-t5"
pytestmark = pytest.mark.skipif(not (MODEL / "config.json").is_file(), reason="no shipped model")

TITLE = "SK하이닉스, HBM 공급 확대로 사상 최대 실적"
BODY = ("SK하이닉스가 고대역폭메모리(HBM) 판매 호조에 힘입어 분기 최대 영업이익을 냈다. "
        "회사는 차세대 HBM 양산을 앞당기고 반도체 설비 투자를 늘리기로 했다. "
        "김철수 대신증권 연구원은 올해 메모리 업황이 좋을 것이라고 내다봤다.")


@pytest.fixture(scope="module")
def gen():
    return T5Generator.load(MODEL, "cpu")


@pytest.fixture(scope="module")
def matcher():
    return TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))


def test_metadata_names_every_task(gen):
    for task in ("classify", "generate", "relevance"):
        spec = gen.task(task)
        assert spec["prefix"] and spec["max_source_length"] >= 64 and spec["max_target_length"] >= 2


def test_classify_picks_the_company_not_the_quoted_brokerage(gen, matcher):
    allowed = classify_outputs(article_text(TITLE, BODY), matcher)
    assert not any(o.endswith("= 대신증권") for o in allowed)
    [out] = gen.generate("classify", [classify_source(TITLE, BODY, matcher)], [gen.trie(allowed, chain=True)])
    pairs = parse_pairs(out.text)
    assert [stock for _, stock in pairs] == ["SK하이닉스"]
    assert pairs[0][0] in matcher.themes.themes_of["SK하이닉스"]
    assert -5 < out.score <= 0


def test_generate_ties_a_sentence_or_says_none(gen, matcher):
    sentences = [TITLE, "오늘 서울은 맑고 바람이 약하게 불겠다."]
    text = article_text(TITLE, BODY)
    tries = [gen.trie(generate_outputs(s, matcher, TITLE, text), chain=True) for s in sentences]
    first, second = gen.generate("generate", [generate_source(s, TITLE, matcher, text) for s in sentences], tries)
    assert [stock for _, stock in parse_pairs(first.text)] == ["SK하이닉스"]
    assert second.text == NONE


def test_relevance_tells_own_sentence_from_unrelated(gen):
    trie = gen.trie(RELEVANCE_OUTPUTS, chain=False)
    own, other = gen.generate("relevance", [
        relevance_source(TITLE, "회사는 차세대 HBM 양산을 앞당기고 반도체 설비 투자를 늘리기로 했다."),
        relevance_source(TITLE, "올여름 해수욕장 방문객이 지난해보다 크게 늘었다."),
    ], [trie, trie], num_beams=1)
    assert (own.text, other.text) == (RELATED, UNRELATED)
    assert own.score <= 0 and other.score <= 0


def test_the_guide_article_ties_toolgen_to_its_gene_therapy_theme(gen, matcher):
    """A real article (read from the guide at test time): the classifier and the generator both tie
    툴젠 to 유전자 치료제/분석, Naver's theme for its CAR-T work."""
    title, body = article()
    allowed = classify_outputs(article_text(title, body), matcher)
    [out] = gen.generate("classify", [classify_source(title, body, matcher)], [gen.trie(allowed, chain=True)])
    assert ("유전자 치료제/분석", "툴젠") in parse_pairs(out.text)
    text = article_text(title, body)
    [first] = gen.generate("generate", [generate_source(title, title, matcher, text)],
                           [gen.trie(generate_outputs(title, matcher, title, text), chain=True)])
    assert [stock for _, stock in parse_pairs(first.text)] == ["툴젠"]
