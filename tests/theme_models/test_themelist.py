"""The default theme list's keywords: from the theme name, plus the other words news writes."""
from __future__ import annotations

from pathlib import Path

from shared.candidates import article_candidates, article_text
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeEntry, ThemeList
from theme_models.themelist import business_words, theme_keywords

ROOT = Path(__file__).resolve().parents[2]


def test_keywords_come_from_the_theme_name():
    assert theme_keywords("유전자 치료제/분석")[:3] == ("유전자 치료제", "유전자치료제", "유전자")  # 분석: too generic
    assert "LFP" in theme_keywords("2차전지(LFP/리튬인산철)")


def test_news_short_forms_are_keywords_of_their_themes():
    assert "원전" in theme_keywords("원자력발전")
    assert "방산" in theme_keywords("방위산업/전쟁 및 테러")


def test_news_forms_and_spellings_are_keywords():
    assert "배터리" in theme_keywords("2차전지")
    assert {"2차전지", "이차전지"} <= set(theme_keywords("2차전지(LFP/리튬인산철)"))  # every 2차전지 theme
    assert "시스템 반도체" in theme_keywords("시스템반도체")
    assert "제약사" in theme_keywords("제약업체")
    assert "엔터주" in theme_keywords("엔터테인먼트")
    assert "CAR-T" in theme_keywords("유전자 치료제/분석")  # the guide's 카티(CAR-T) article
    # 라면 alone would be found in every conditional ending (사실이라면)
    assert "라면" not in theme_keywords("음식료업종") and "라면주" in theme_keywords("음식료업종")
    # 강관 alone would be found in 건강관리
    assert "강관" not in theme_keywords("강관업체(Steel pipe)") and "강관주" in theme_keywords("강관업체(Steel pipe)")


def test_news_forms_of_one_word_theme_names():
    assert {"대형마트", "할인점"} <= set(theme_keywords("소매유통"))
    assert "벤처캐피탈" in theme_keywords("창투사")
    assert "태양광" in theme_keywords("태양광에너지") and "제련" in theme_keywords("비철금속")
    assert "조선 기자재" in theme_keywords("조선기자재") and "화학 업종" in theme_keywords("석유화학")
    assert "풍력" in theme_keywords("풍력에너지") and "자율주행" in theme_keywords("자율주행차")


def test_market_wraps_sector_words_evidence_the_stocks_they_list():
    """A market wrap names a sector by its stocks' kind (금융주, 바이오주, 보험 업종) beside their moves."""
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    body = ("KB금융(1.6%), 신한지주(0.2%) 등 금융주가 올랐다. 삼성생명(7.3%)이 보험 업종 상승을 이끌었다. "
            "셀트리온(1.5%) 등 바이오주도 강세였다.")
    themes = {c.stock: c.themes for c in article_candidates(matcher, article_text("코스피 상승 마감", body))}
    assert themes["KB금융"][0] == themes["신한지주"][0] == "은행"
    assert themes["삼성생명"] == ["생명보험"] and themes["셀트리온"][0] == "제약업체"


def test_insurers_are_found_by_the_words_news_writes_for_their_trade():
    """News calls insurers 보험주 and 생보사/손보사, seldom 생명보험 or 손해보험 (손보 alone is also 손보다)."""
    assert "손보" not in theme_keywords("손해보험")
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    text = article_text("보험주 일제히 반등", "삼성생명이 5% 올랐고 삼성화재도 3% 상승했다. 규제를 손보는 방안도 나왔다.")
    themes = {c.stock: c.themes for c in article_candidates(matcher, text)}
    assert themes["삼성생명"][0] == "생명보험" and themes["삼성화재"][0] == "손해보험"


def test_quantum_computing_stocks_are_found_by_the_short_form_news_writes():
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    text = article_text("양자컴 관련주 급등", "양자컴퓨터 상용화 기대에 엑스게이트가 상한가를 기록했다.")
    assert [c.stock for c in article_candidates(matcher, text)] == ["엑스게이트"]


def test_a_stock_is_found_by_the_full_name_news_writes_before_its_code():
    """The KRX listing shortens 큐브엔터테인먼트 to 큐브엔터, which then ends inside the longer name."""
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    text = article_text("엔터주 줄줄이 신고가", "엔터테인먼트 업종에서는 큐브엔터테인먼트(182360)가 16.68% 올랐다.")
    assert [c.stock for c in article_candidates(matcher, text)] == ["큐브엔터"]


def test_the_gc_group_s_companies_are_found_by_their_news_names():
    themes = ThemeList.load(ROOT / "data" / "themes.csv")
    assert "GC녹십자웰빙" in themes.aliases["녹십자웰빙"]
    matcher = TfidfMatcher(themes)
    text = article_text("GC녹십자웰빙, 이니바이오 인수", "제약사 GC녹십자웰빙이 보툴리눔 톡신 시장에 진출한다.")
    assert [c.stock for c in article_candidates(matcher, text)] == ["녹십자웰빙"]
    # 녹십자 is also a group's name, but GC녹십자 is only the company's
    text = article_text("GC녹십자, 독감 백신 수출", "제약사 GC녹십자는 독감 백신을 수출한다.")
    assert [c.stock for c in article_candidates(matcher, text)] == ["녹십자"]


def test_financial_holding_companies_are_holding_companies():
    """News writes KB금융, 신한지주 ... as 금융지주 or 금융그룹, never as 지주사."""
    assert {"지주회사", "금융지주", "금융그룹"} <= set(theme_keywords("지주사"))
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    text = article_text("4대 금융그룹 회장들의 신년사", "양종희 KB금융 회장은 신년사에서 위기를 강조했다.")
    [kb] = [c for c in article_candidates(matcher, text) if c.stock == "KB금융"]
    assert kb.in_scope == {"지주사"}


def test_the_shipped_list_ties_an_article_that_says_only_the_short_forms():
    """API.md's own example themes: an article on 원전 and 방산 that never writes 원자력발전 or 방위산업."""
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    text = ("두산에너빌리티, 체코 원전 수주 기대감에 강세\n두산에너빌리티가 체코 원전 사업 수주 기대감에 상승했다. "
            "방산주인 LIG넥스원은 방산 수출 호조로 강세를 보였다.")
    found = {m.stock: m.theme for m in matcher.match(text)}
    assert found == {"두산에너빌리티": "원자력발전", "LIG넥스원": "방위산업/전쟁 및 테러"}


def test_words_that_contain_a_short_form_are_not_evidence():
    """방산 inside 전방산업 (the downstream industry) or 지방산업단지, 원전 inside 대원전선 (a cable maker)."""
    matcher = TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))
    assert matcher.match("풍산, 구리 가격 상승 수혜\n풍산은 전방산업인 전선 수요가 늘며 신동 부문 실적이 좋아졌다.") == []
    assert matcher.match("서울 지방산업단지 조성\n한화가 지방산업단지에 투자한다.") == []
    assert [m.stock for m in matcher.match("한화, 방산 수출 호조\n한화는 방산 부문 실적이 좋았다.")] == ["한화"]


def test_business_words_are_what_a_theme_s_companies_write_and_few_others_do():
    common = "동사의 주요 제품 매출은 국내에서 발생함."  # every company writes these: no theme's business
    food = {f"식품{i}": f"라면과 과자, 음료를 제조함. {common}" for i in range(4)}
    chips = {f"칩{i}": f"반도체 장비를 제조함. {common}" for i in range(4)}
    ships = {f"배{i}": f"선박을 건조함. {common}" for i in range(4)}
    entries = [ThemeEntry(theme, s) for theme, group in (("음식료", food), ("반도체", chips), ("조선", ships))
               for s in group]
    entries += [ThemeEntry("밸류업", s) for s in ("식품0", "칩0", "배1")]  # members of no one business
    words = business_words(ThemeList(entries), {**food, **chips, **ships})
    assert set(words["음식료"]) == {"라면", "과자", "음료"}  # the particle of 라면과 stripped
    assert set(words["반도체"]) == {"반도체", "장비"}
    assert set(words["조선"]) == {"선박"}  # 건조함, 제조함: predicates
    assert "밸류업" not in words
    # a word most news stories write is no sign of a business
    news = ["선박 수주가 늘었다."] * 2 + ["라면 값이 올랐다.", "증시가 올랐다."] + ["주가가 올랐다."] * 16
    words = business_words(ThemeList(entries), {**food, **chips, **ships}, news)
    assert set(words["조선"]) == {"선박"} and "라면" in words["음식료"]
    words = business_words(ThemeList(entries), {**food, **chips, **ships}, news[:2] + news[4:9])
    assert not words["조선"]  # 선박 in 2 of 7 stories: more than BUSINESS_MAX_NEWS_SHARE


def test_the_shipped_list_has_business_words_for_trades_and_none_for_events():
    themes = ThemeList.load(ROOT / "data" / "themes.csv")
    assert {"식품", "음료"} <= themes.business["음식료업종"]
    assert "의약품" in themes.business["제약업체"]
    assert not themes.business["코리아 밸류업 지수(Korea Value-up Index)"]
    assert not themes.business["기업인수목적회사(SPAC)"]  # its members' overviews are placeholders
    assert not {"포인트", "외국", "받은"} & {w for t in themes.themes for w in themes.business[t]}  # news words
