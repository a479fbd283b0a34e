"""Distant supervision on an article written for this test."""
from __future__ import annotations

import threading

from shared.candidates import RELATED, UNRELATED
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeEntry, ThemeList
from theme_models.data import Article, relevance_pairs
from theme_models.labels import Labeller

THEMES = ThemeList([
    ThemeEntry("유전자 치료제/분석", "툴젠", "199800", ("유전자 치료제", "유전자")),
    ThemeEntry("면역항암제", "툴젠", "199800", ("면역항암제",)),
    ThemeEntry("반도체 대표주(생산)", "삼성전자", "005930", ("반도체",)),
    ThemeEntry("증권", "대신증권", "003540", ("증권",)),
    ThemeEntry("조선", "한화오션", "042660", ("조선", "선박")),
])
TITLE = "툴젠, 유전자 치료제 기술 해외 이전"
BODY = ("툴젠이 유전자 치료제 후보 물질의 권리를 해외 기업에 넘겼다. "
        "홍길동 대신증권 연구원은 증권 시장의 관심이 커질 것이라고 분석했다. "
        "같은 날 삼성전자는 새 사옥을 공개했다. 반도체 업황은 좋았다. "
        "한화오션은 선박을 인도했다. 한화오션의 조선 수주도 늘었다.")


def test_article_labels():
    labels = Labeller(TfidfMatcher(THEMES)).label(TITLE, BODY)
    # 툴젠: in the title. 한화오션: its own sentences evidence 조선. 삼성전자: named once, in a sentence
    # without evidence (반도체 is in the next one): a passing mention. 대신증권: a quoted source.
    assert labels.pairs == [("유전자 치료제/분석", "툴젠"), ("조선", "한화오션")]
    assert labels.gold_themes["툴젠"] == ["유전자 치료제/분석"]
    assert labels.passing == ["삼성전자"]


def test_sentence_labels():
    labels = Labeller(TfidfMatcher(THEMES)).label(TITLE, BODY)
    by_sentence = dict(zip(labels.sentences, labels.sentence_pairs))
    assert by_sentence[TITLE] == [("유전자 치료제/분석", "툴젠")]
    assert by_sentence["같은 날 삼성전자는 새 사옥을 공개했다."] == []
    assert by_sentence["한화오션은 선박을 인도했다."] == [("조선", "한화오션")]


def test_a_reader_s_labels_replace_the_rules():
    """The reader ties 삼성전자 (a passing mention by the rules) and not 한화오션; 툴젠's first theme is not
    offered (no keyword of 면역항암제 in the text), so its next one is taken. 대신증권, a quoted source,
    is not offered at all: the model could not answer it."""
    reader = {"툴젠": ["면역항암제", "유전자 치료제/분석"], "삼성전자": ["반도체 대표주(생산)"], "대신증권": ["증권"]}
    labels = Labeller(TfidfMatcher(THEMES)).label(TITLE, BODY, reader)
    assert labels.pairs == [("유전자 치료제/분석", "툴젠"), ("반도체 대표주(생산)", "삼성전자")]
    assert labels.gold_themes == {"툴젠": ["면역항암제", "유전자 치료제/분석"], "삼성전자": ["반도체 대표주(생산)"]}
    assert labels.passing == ["한화오션"] and labels.unoffered_themes == []
    by_sentence = dict(zip(labels.sentences, labels.sentence_pairs))
    assert by_sentence["같은 날 삼성전자는 새 사옥을 공개했다."] == [("반도체 대표주(생산)", "삼성전자")]
    assert by_sentence["한화오션은 선박을 인도했다."] == []
    # none of the reader's themes offered: the best offered one, counted
    only = Labeller(TfidfMatcher(THEMES)).label(TITLE, BODY, {"툴젠": ["면역항암제"]})
    assert only.pairs == [("유전자 치료제/분석", "툴젠")] and only.unoffered_themes == ["툴젠"]


def test_relevance_pairs_match_each_own_sentence_with_another_article_s():
    a = Article("a", "툴젠, 기술이전", "툴젠이 유전자교정 기술을 이전했다. 계약금과 기술료는 양측 합의에 따라 공개하지 않았다.")
    b = Article("b", "반도체 호황", "삼성전자가 반도체 투자를 늘렸다.")
    pairs = relevance_pairs([a, b], per_article=2)
    assert sorted(label for _, _, label in pairs) == [RELATED] * 3 + [UNRELATED] * 3
    assert ("툴젠, 기술이전", "삼성전자가 반도체 투자를 늘렸다.", UNRELATED) in pairs
    # one article alone has no other to draw from: no pairs, and no endless search for one
    alone: list = []
    worker = threading.Thread(target=lambda: alone.append(relevance_pairs([a], per_article=2)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert alone == [[]]
