"""The default theme list's keywords: from the theme name, plus the short forms news writes."""
from __future__ import annotations

from pathlib import Path

from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from theme_models.themelist import theme_keywords

ROOT = Path(__file__).resolve().parents[2]


def test_keywords_come_from_the_theme_name():
    assert theme_keywords("유전자 치료제/분석") == ("유전자 치료제", "유전자치료제", "유전자")  # 분석: too generic
    assert "LFP" in theme_keywords("2차전지(LFP/리튬인산철)")


def test_news_short_forms_are_keywords_of_their_themes():
    assert "원전" in theme_keywords("원자력발전")
    assert "방산" in theme_keywords("방위산업/전쟁 및 테러")


def test_the_shipped_list_ties_an_article_that_says_only_the_short_forms():
    """API.md's own example themes: an article on 원전 and 방산 that never writes 원자력발전 or 방위산업."""
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    text = ("두산에너빌리티, 체코 원전 수주 기대감에 강세\n두산에너빌리티가 체코 원전 사업 수주 기대감에 상승했다. "
            "방산주인 LIG넥스원은 방산 수출 호조로 강세를 보였다.")
    found = {m.stock: m.theme for m in matcher.match(text)}
    assert found == {"두산에너빌리티": "원자력발전", "LIG넥스원": "방위산업/전쟁 및 테러"}
