"""Which listed names count as a company mention, and the shared per-task inputs. Sentences written here."""
from __future__ import annotations

import pytest

from shared.candidates import (article_candidates, article_subjects, article_text, classify_outputs, classify_source,
                               generate_outputs, generate_source, left_out_outputs, relevance_source, split_sentences,
                               stock_finder, theme_evidence)
from shared.pairs import NONE
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeEntry, ThemeList

ENTRIES = [
    ThemeEntry("유전자 치료제/분석", "툴젠", "199800", ("유전자 치료제", "유전자")),
    ThemeEntry("반도체 대표주(생산)", "삼성전자", "005930", ("반도체",)),
    ThemeEntry("HBM(고대역폭메모리)", "SK하이닉스", "000660", ("HBM", "고대역폭메모리"), ("하이닉스",)),
    ThemeEntry("음식료", "대상", "001680", ("식품",)),
    ThemeEntry("지주사", "LG", "003550", ("지주사",)),
    ThemeEntry("증권", "대신증권", "003540", ("증권",)),
    ThemeEntry("자동차 대표주", "레이", "228670", ("자동차",)),
    ThemeEntry("항공/저가 항공사(LCC)", "티웨이항공", "091810", ("항공", "LCC")),
    ThemeEntry("비철금속", "영풍", "000670", ("아연",)),
    ThemeEntry("미디어(방송/신문)", "한국경제TV", "039340", ("방송",)),
    ThemeEntry("방위산업/전쟁 및 테러", "한화", "000880", ("방산",)),
]


@pytest.fixture(scope="module")
def matcher():
    return TfidfMatcher(ThemeList(ENTRIES))


def found(matcher, text, **kw):
    return list(stock_finder(matcher).find(text, **kw))


@pytest.mark.parametrize("text, expected", [
    ("툴젠이 기술을 이전했다.", ["툴젠"]),
    ("삼성전자와의 협력이 늘었다.", ["삼성전자"]),
    ("하이닉스 주가가 올랐다.", ["SK하이닉스"]),                      # a short form
    ("그는 플레이 스토어를 열었다.", []),                             # 레이 inside another word
    ("툴젠바이오라는 회사는 없다.", []),                              # a longer, unlisted name
    ("연구 대상으로 삼았다.", []),                                    # an ordinary word
    ("대상(001680)은 식품 사업을 한다.", ["대상"]),                    # ... with its code
    ("식품주 중 대상(+3.5%)이 올랐다.", ["대상"]),                     # ... with its price move
    ("식품주 중 대상우(+3.5%)가 올랐다.", ["대상"]),                   # ... its preferred share's
    ("지원 대상(약 20만 명)을 늘렸다.", []),
    ("식품기업 대상은 실적이 좋았다.", ["대상"]),                     # ... after the kind of company it is
    ("중소기업 대상으로 지원을 늘렸다.", []),
    ("중소기업 대상의 지원을 늘렸다.", []),                          # a kind of firm in general
    ("협력업체 대상 등 지원이 늘었다.", []),
    ("대기업 LG는 투자를 늘렸다.", []),
    ("대신증권이 LG에 대해 투자의견 매수를 유지했다.", ["LG"]),         # ... with a brokerage's call on it
    ("투자 대상의 목표 가격을 정한다.", []),
    ("LG그룹 계열사가 모였다.", []),                                  # a group
    ("LG는 신년사를 냈다.", []),                                      # a group name without evidence
    ("반도체 호황을 이끌었다삼성전자는 투자를 늘렸다.", ["삼성전자"]),  # a lost space after 다
    ("향후툴젠(199800) 미국 법인과 협력한다.", ["툴젠"]),               # a lost space, but its code follows
    ("향후툴젠 미국 법인과 협력한다.", []),
    ("향후툴젠(005930) 미국 법인과 협력한다.", []),                    # another company's code
    ("삼성전자우(+2.1%)도 올랐다.", ["삼성전자"]),                     # a preferred share
    ("삼성전자우(005935)도 올랐다.", ["삼성전자"]),
    ("삼성전자우주 사업을 한다.", []),
    ("삼성전자우는 2.1% 올랐다.", ["삼성전자"]),                         # ... with a particle
    ("삼성전자우려가 커졌다.", []),
])
def test_mentions(matcher, text, expected):
    assert found(matcher, text) == expected


@pytest.mark.parametrize("title, expected", [
    ("영풍, 고려아연 임시주총 효력정지 가처분 신청", ["영풍"]),             # the headline's subject
    ("매출 올랐는데…영풍, 작년 적자 전환", ["영풍"]),                     # ... of its second clause
    ('"영풍, 아연 가격 반등에 수혜"-iM', ["영풍"]),
    ("(종합) 영풍, 작년 적자 전환", ["영풍"]),
    ("매출 늘었지만...영풍, 작년 적자 전환", ["영풍"]),
    ("고려아연·영풍, 나란히 하락", []),                                   # two names, as groups are listed
    ("영풍, 대상, 삼성 총수 회동", []),                                    # a list of names
    ('영풍, "MBK, 약속 지켜라"', ["영풍"]),
    ("영풍, 결국, 가처분 신청", ["영풍"]),
    ("바람이 영풍, 물결이 잔잔", []),                                     # not the title's start
    ("영풍, 대상 상대로 소송", ["영풍"]),                                  # a name after it, no list
])
def test_a_title_opening_with_an_ambiguous_name_and_a_comma_names_the_company(matcher, title, expected):
    """(영풍 before another listed name: ``영풍, 고려아연 …`` is its own news; a group so placed is not.)"""
    body = "영풍은 이사회를 열었다."
    assert found(matcher, article_text(title, body), title=title) == expected
    assert found(matcher, body, context=article_text(title, body)) == expected  # its sentences too
    assert found(matcher, body) == []


@pytest.mark.parametrize("sentence, expected", [
    ("31일 한국경제TV에 출연한 김 부장은 반등을 점쳤다.", []),
    ("전체 내용은 한국경제TV <투자의 재발견> 영상에서 확인할 수 있습니다.", []),
    ("지금까지 한국경제TV 김채영입니다.", []),
    ("※ 한국경제TV는 신뢰할 수 있는 정보를 전합니다.", []),
    ("※ 본 기사는 한국경제TV 방송 내용을 정리한 것입니다.", []),
    ("지난 15일 방송된 한국경제TV ‘진짜 주식 2부’에서는 시장을 짚었다.", []),
    ("한국경제TV 취재 결과 계약은 미뤄졌다.", []),
    ("김 대표는 한국경제TV와 가진 인터뷰에서 반등을 점쳤다.", []),
    ("한국경제TV 주가가 광고 매출 증가에 올랐다.", ["한국경제TV"]),        # written about
    ("한국경제TV는 3분기 방송 광고 매출이 늘었다.", ["한국경제TV"]),       # ... its business's words
])
def test_a_publisher_named_as_the_venue_is_not_a_mention(matcher, sentence, expected):
    assert found(matcher, sentence) == expected


@pytest.mark.parametrize("sentence, expected", [
    ("비교기업으로는 삼성전자, SK하이닉스, 툴젠을 선정했다.", []),
    ("공모가 산정을 위한 유사 기업으로 삼성전자를 골랐다.", []),
    ("피어그룹에는 SK하이닉스가 들어갔다. SK하이닉스는 HBM 공급을 늘렸다.", ["SK하이닉스"]),  # named again
    ("삼성전자는 비교적 적은 투자로 반도체 점유율을 지켰다.", ["삼성전자"]),                  # 비교적: no mark
    ("삼성전자는 유사 기업 대비 저평가돼 있다.", ["삼성전자"]),                              # before the mark
    ("유사기업 대비 저평가된 삼성전자는 반등했다.", ["삼성전자"]),                            # no list follows
    ("비교기업으로 대신증권을 선정했다.", []),                                               # a brokerage too
])
def test_a_company_named_as_a_comparable_is_not_a_mention(matcher, sentence, expected):
    assert found(matcher, sentence) == expected


@pytest.mark.parametrize("sentence, expected", [
    ("지난달에는 대신증권이 100만원으로 상향 조정했다.", []),
    ("대신증권은 120만원을 제시했다.", []),
    ("대신증권은 기존 3만9000원에서 4만4000원으로 올렸다.", []),
    ("대신증권이 배당을 늘렸다.", ["대신증권"]),
    ("대신증권이 배당금을 주당 1200원으로 상향했다.", ["대신증권"]),       # not a price call
    ("대신증권 주가는 기존 2만원에서 3만원으로 뛰었다.", ["대신증권"]),
    ("대신증권은 19일 삼성전자에 대해 자사주 매입이 끝났다고 밝혔다.", ["삼성전자"]),  # a research note's lead
    ("대신증권은 반도체 업황이 바닥을 지났다고 봤다.", []),                 # ... and its verdict
    ("대신증권은 이번 사태로 큰 손실을 봤다.", ["대신증권"]),               # its own loss
    ("대신증권은 전산 장애에 대해 공식 사과했다.", ["대신증권"]),
    ("금감원은 대신증권이 내부통제 규정을 어겼다고 봤다.", ["대신증권"]),   # another's verdict on it
    ("업계는 대신증권을 초대형 IB 후보로 꼽았다.", ["대신증권"]),
    ("금감원은 19일 대신증권에 대해 제재를 결정했다.", ["대신증권"]),       # the subject of others' action
])
def test_a_brokerage_s_call_marks_it_as_the_source(matcher, sentence, expected):
    assert found(matcher, sentence) == expected


def test_brokerage_quoted_as_source_is_not_a_mention(matcher):
    quoted = "홍길동 대신증권 연구원은 반도체 업황이 좋다고 분석했다."
    assert found(matcher, quoted) == []
    assert found(matcher, "대신증권이 새 지점을 열었다.") == ["대신증권"]
    assert found(matcher, quoted, title="대신증권, 최대 실적") == ["대신증권"]
    # a brokerage raising a target price is a source too, however the sentence is built
    assert found(matcher, "대신증권이 툴젠의 목표가를 5만원으로 올렸다.") == ["툴젠"]
    assert found(matcher, "대신증권은 툴젠의 목표 주가를 올렸다.") == ["툴젠"]
    assert found(matcher, "영업이익은 대신증권의 예상치를 웃돌았다.") == []  # its estimate
    assert found(matcher, "대신증권의 영업이익은 시장 예상치를 웃돌았다.") == ["대신증권"]  # the market's


@pytest.mark.parametrize("sentence", [
    "회사채 발행 주관사는 대신증권이다.",                     # the underwriter of another's deal
    "이번 유상증자 인수단에는 대신증권이 참여했다.",
    "(사진=대신증권)툴젠이 기술을 이전했다.",                  # a photo credit
    "홍길동 대신증권 연금본부 본부장은 말했다.",               # a person's department
    "툴젠은 대신증권 출신 임원을 영입했다.",                   # a former employer
])
def test_brokerage_in_a_role_in_another_s_story_is_not_a_mention(matcher, sentence):
    assert "대신증권" not in found(matcher, sentence)


def test_brokerage_roles_are_words_not_parts_of_words(matcher):
    assert found(matcher, "대신증권의 주관적 판단이 늘었다.") == ["대신증권"]
    # a department or a former employer only right after the name: here the brokerage hires
    assert found(matcher, "대신증권은 툴젠 출신 임원을 영입했다.") == ["대신증권", "툴젠"]


@pytest.mark.parametrize("title, expected", [
    ("대신증권, 작년 영업이익 최대", ["대신증권"]),
    ("툴젠, 기술이전 기대 커져-대신증권", ["툴젠"]),                 # the title signed by its source
    ("툴젠, 기술이전 기대 커져-대신", ["툴젠"]),                     # ... by the start of its name
    ("툴젠, 기술이전 기대 커져 - 대신증권) ", ["툴젠"]),              # ... however it is closed
    ("대신증권 “리서치센터 인력 확충”", ["대신증권"]),                # a quote, but no call on a stock
    ("대신證 “툴젠, 목표가 5만원으로 상향”", ["툴젠"]),              # the title quotes its call
    ("대신증권 “해외 주식 수수료 내린다”", ["대신증권"]),            # ... but not a call on a stock
    ("대신증권 “툴젠, 업종 최선호주”", ["툴젠"]),                     # its top pick is a call too
])
def test_brokerage_in_the_title_is_a_subject_unless_it_is_the_source(matcher, title, expected):
    aliased = ThemeList(ENTRIES[:5] + [ThemeEntry("증권", "대신증권", "003540", ("증권",), ("대신證",))])
    assert found(TfidfMatcher(aliased), title, title=title) == expected
    # the source the title names is the source of the whole article, even where a sentence has no mark of it
    text = article_text(title, "대신증권은 10일 툴젠에 대해 기술이전이 늘 것이라고 밝혔다.")
    assert ("대신증권" in found(TfidfMatcher(aliased), text, title=title)) == ("대신증권" in expected)


def test_a_title_quoting_an_investment_brokerage_by_the_name_before_투자증권_names_the_source():
    themes = TfidfMatcher(ThemeList([ThemeEntry("증권", "유진투자증권", "001200", ("증권",)),
                                     ThemeEntry("유전자 치료제/분석", "툴젠", "199800", ("유전자",))]))
    title = "유진證 “툴젠, 목표가 상향”"
    text = article_text(title, "유진투자증권은 툴젠의 유전자 치료제 기술이전이 늘 것이라고 밝혔다.")
    assert found(themes, text, title=title) == ["툴젠"]


def test_a_title_quoting_the_brokerage_by_its_short_form_names_the_source(matcher):
    """증권 written 證, a form the list does not alias: ``LS證 “…목표가도 상향”``."""
    title = "대신證 “툴젠, 기술이전 늘어…목표가도 상향”"
    text = article_text(title, "대신증권이 툴젠에 대해 평했다. 대신증권은 하반기 기술이전이 늘 것으로 보고 있다.")
    assert found(matcher, text, title=title) == ["툴젠"]


def test_split_sentences_keeps_glued_sentences_apart():
    text = "툴젠이 계약했다.순시그룹은 권리를 얻었다. 주가는 2.3% 올랐다!\n다음 문장"
    assert split_sentences(text) == ["툴젠이 계약했다.", "순시그룹은 권리를 얻었다.", "주가는 2.3% 올랐다!", "다음 문장"]


def test_outputs_are_evidenced_member_pairs_and_none(matcher):
    text = article_text("툴젠, 기술이전", "툴젠이 유전자 치료제를 이전했다. 삼성전자도 같은 날 발표했다.")
    # 삼성전자 is named, but nothing in the article evidences its theme (반도체): not offered.
    assert classify_outputs(text, matcher) == ["유전자 치료제/분석 = 툴젠", NONE]
    assert generate_outputs("날씨가 맑다.", matcher) == [NONE]
    sentence = "삼성전자도 같은 날 발표했다."
    assert generate_outputs(sentence, matcher, "툴젠, 기술이전", text) == [NONE]
    assert generate_outputs(sentence, matcher, "반도체 호황", "반도체 호황\n" + sentence) == [
        "반도체 대표주(생산) = 삼성전자", NONE]



def test_the_server_s_generation_answers_a_pair_for_a_sentence_naming_a_tied_stock(matcher):
    text = article_text("툴젠, 기술이전", "툴젠이 유전자 치료제를 이전했다. 삼성전자도 같은 날 발표했다.")
    sentence = "툴젠이 유전자 치료제를 이전했다."  # 툴젠 is tied: the title names it
    assert generate_outputs(sentence, matcher, "툴젠, 기술이전", text) == ["유전자 치료제/분석 = 툴젠", NONE]
    assert generate_outputs(sentence, matcher, "툴젠, 기술이전", text, answer_tied=True) == ["유전자 치료제/분석 = 툴젠"]
    # a stock named once, without evidence in its scope, is not tied: 없음 stays a possible answer
    once = article_text("수출 호황", "반도체 수출이 늘었다. 삼성전자도 같은 날 발표했다.")
    assert generate_outputs("삼성전자도 같은 날 발표했다.", matcher, "수출 호황", once, answer_tied=True) == [
        "반도체 대표주(생산) = 삼성전자", NONE]


def test_left_out_outputs_are_the_tied_stocks_an_answer_did_not_name(matcher):
    title = "반도체 호황"
    text = article_text(title, "삼성전자와 SK하이닉스가 반도체 투자를 늘렸다. 툴젠도 같은 날 발표했다.")
    sentence = "삼성전자와 SK하이닉스가 반도체 투자를 늘렸다."
    assert left_out_outputs(sentence, matcher, title, text, {"삼성전자"}) == []  # SK하이닉스: no HBM word
    hbm = article_text(title, "삼성전자와 SK하이닉스가 반도체와 HBM 투자를 늘렸다.")
    sentence = "삼성전자와 SK하이닉스가 반도체와 HBM 투자를 늘렸다."
    assert left_out_outputs(sentence, matcher, title, hbm, {"삼성전자"}) == ["HBM(고대역폭메모리) = SK하이닉스"]
    assert left_out_outputs(sentence, matcher, title, hbm, {"삼성전자", "SK하이닉스"}) == []


def test_only_themes_evidenced_in_the_stock_s_own_scope_are_offered_when_there_are_any():
    """The rules label a stock with a theme of its own scope; a theme the article evidences elsewhere is
    shown in the hint (``-``) but is no answer, unless the stock has no theme in its scope."""
    matcher = TfidfMatcher(ThemeList(ENTRIES + [ThemeEntry("HBM(고대역폭메모리)", "삼성전자", "005930", ("HBM",))]))
    title, body = "메모리 시장 전망", "HBM 수요가 늘었다. 삼성전자가 반도체 투자를 늘렸다."
    text = article_text(title, body)
    assert classify_outputs(text, matcher) == ["반도체 대표주(생산) = 삼성전자", NONE]
    assert generate_outputs("삼성전자가 반도체 투자를 늘렸다.", matcher, title, text) == ["반도체 대표주(생산) = 삼성전자", NONE]
    assert classify_source(title, body, matcher).startswith("후보: 삼성전자 1회 반도체 대표주(생산) 있음 , HBM(고대역폭메모리) -\n")
    # named twice, with no theme in its scope: every theme the article evidences is offered
    text = article_text("메모리 시장 전망", "HBM 수요가 늘었다. 반도체 업황도 좋다. 삼성전자가 웃었다. 삼성전자는 투자를 늘린다.")
    assert classify_outputs(text, matcher) == ["반도체 대표주(생산) = 삼성전자", "HBM(고대역폭메모리) = 삼성전자", NONE]


def test_a_sentence_listing_a_sector_s_stocks_ties_each_of_them_to_it():
    """A market wrap names the sector once and lists its movers in another sentence: each stock listed
    with two others of a theme the article evidences is tied to it, one listed with a single other is not."""
    builders = [ThemeEntry("건설", s, c, ("건설",)) for s, c in (("금호건설", "002990"), ("GS건설", "006360"),
                                                             ("동신건설", "025950"))]
    matcher = TfidfMatcher(ThemeList(ENTRIES + builders + [ThemeEntry("원자력발전", "금호건설", "002990", ("원전",))]))
    body = ("건설주가 일제히 올랐다. 금호건설(9.41%), GS건설(6.94%), 동신건설(7.05%) 등이 급등했다. "
            "원전 수주 기대가 컸다. 원전 정책도 원전 업계에 힘이 됐다.")
    candidates = {c.stock: c for c in article_candidates(matcher, article_text("증시 마감", body))}
    assert {s: (c.tied, c.offered) for s, c in candidates.items()} == {s: (True, ["건설"]) for s in candidates}
    assert candidates.keys() == {"금호건설", "GS건설", "동신건설"}
    # the listed theme comes first, before one the article evidences more but elsewhere (the rules' label)
    assert candidates["금호건설"].hint() == "금호건설 1회 건설 있음 , 원자력발전 -"
    pair = "금호건설(9.41%), GS건설(6.94%) 등이 급등했다."
    assert not any(c.tied for c in article_candidates(matcher, article_text("증시 마감", f"건설주가 올랐다. {pair}")))


def test_a_title_stock_s_own_name_is_evidence_for_its_themes(matcher):
    # the article never writes 항공 outside the name: the name of the stock its title names says it
    about = article_candidates(matcher, article_text("티웨이항공, 경영권 분쟁", "티웨이항공 주가가 흔들렸다."))
    assert [(c.stock, c.themes, c.in_scope) for c in about] == [("티웨이항공", ["항공/저가 항공사(LCC)"],
                                                                 {"항공/저가 항공사(LCC)"})]
    # named twice in the body only, it is no subject of that theme (a new-year article names it for its crash)
    passing = article_text("경제계 신년사", "티웨이항공 임직원이 묵념했다. 티웨이항공 사고 수습이 이어졌다.")
    assert article_candidates(matcher, passing) == ()


def test_a_group_owning_a_brokerage_is_never_offered_as_one():
    """Naver files 현대차 under 증권 (it owns 현대차증권); a financial holding company is one."""
    themes = TfidfMatcher(ThemeList([ThemeEntry("증권", "현대차", "005380", ("증권",)),
                                     ThemeEntry("자동차 대표주", "현대차", "005380", ("자동차",)),
                                     ThemeEntry("증권", "한국금융지주", "071050", ("증권",))]))
    text = article_text("증권사 실적 발표", "현대차는 자동차 판매가 늘었다. 한국금융지주는 증권 자회사 실적이 좋았다.")
    assert {c.stock: c.themes for c in article_candidates(themes, text)} == {"현대차": ["자동차 대표주"],
                                                                            "한국금융지주": ["증권"]}


def test_a_brokerage_the_body_writes_about_again_and_again_is_a_brokerage_story(matcher):
    results = article_text("작년 순이익 두 배", "대신증권은 작년 순이익이 두 배로 늘었다. 대신증권은 배당도 늘린다.")
    assert [(c.stock, c.themes, c.tied) for c in article_candidates(matcher, results)] == [("대신증권", ["증권"], True)]
    once = article_text("작년 순이익 두 배", "대신증권은 작년 순이익이 두 배로 늘었다고 밝혔다.")
    assert article_candidates(matcher, once) == ()
    # quoted once and written about once is not again and again
    quoted = article_text("툴젠 주목", "홍길동 대신증권 연구원은 툴젠을 분석했다. 대신증권은 이날 툴젠을 주목했다.")
    assert [c.stock for c in article_candidates(matcher, quoted)] == []


def test_business_words_evidence_a_theme_only_for_a_stock_the_article_is_about():
    """삼양식품 in a story on its 불닭 ramen, which never writes the 음식료 keyword: 식품, a word of the
    theme's business, in its name or its sentences. Not for a stock evidenced by keywords, and not for
    one named once in the body."""
    matcher = TfidfMatcher(ThemeList([ThemeEntry("음식료", "삼양식품", "003230", ("음식료",), business=("식품", "라면")),
                                      ThemeEntry("음식료", "농심", "004370", ("음식료",)),
                                      ThemeEntry("밸류업", "삼양식품", "003230", ("밸류업",)),
                                      ThemeEntry("방위산업", "풍산", "103140", ("방위산업",), business=("방산",))]))
    offered = lambda title, body: {c.stock: (c.offered, c.in_scope)  # noqa: E731
                                   for c in article_candidates(matcher, article_text(title, body))}
    assert offered("삼양식품, 역대 최고가", "불닭 수출이 늘었다.") == {"삼양식품": (["음식료"], {"음식료"})}
    assert offered("불닭 수출 호조", "불닭 수출이 늘었다.") == {}  # named nowhere
    # named twice in the body: a word of the business in the sentences that name it
    body = "불닭 수출이 늘었다. 삼양식품은 라면 공장을 짓는다. 삼양식품 주가가 올랐다."
    assert offered("K-푸드 열풍", body) == {"삼양식품": (["음식료"], {"음식료"})}
    # ... but not when the business words are elsewhere only
    assert offered("K-푸드 열풍", "라면 수출이 늘었다. 삼양식품이 웃었다. 삼양식품 주가가 올랐다.") == {}
    assert offered("K-푸드 열풍", "삼양식품은 라면 공장을 짓는다.") == {}  # named once
    # the words are the theme's, so every member's
    assert offered("증시 마감", "농심은 라면 수출로 올랐다. 농심 주가가 뛰었다.") == {"농심": (["음식료"], {"음식료"})}
    assert offered("풍산, 실적 개선", "풍산은 방산 수출이 늘었다.") == {"풍산": (["방위산업"], {"방위산업"})}
    assert offered("풍산, 실적 개선", "풍산은 전방산업 수요가 늘었다.") == {}  # not a word of its business
    # the business words elsewhere in the article do not count, even for the title's stock
    assert offered("삼양식품, 역대 최고가", "불닭 수출이 늘었다. 라면 시장이 컸다.") == {"삼양식품": (["음식료"], {"음식료"})}
    assert offered("역대 최고가 경신", "불닭 수출이 늘었다. 라면 시장이 컸다. 삼양식품 주가가 뛰었다. 삼양식품이 웃었다.") == {}
    # the keyword of one of its themes: business words are not looked for
    assert offered("삼양식품, 밸류업 공시", "삼양식품은 라면 공장을 짓는다.") == {"삼양식품": (["밸류업"], {"밸류업"})}


def test_a_name_inside_a_longer_name_is_not_in_the_title_nor_in_its_sentence(matcher):
    text = article_text("LG에너지솔루션, 증설", "LG에너지솔루션이 지주사 체제를 바꾼다. LG(003550)는 배당을 늘렸다.")
    [lg] = article_candidates(matcher, text)
    assert (lg.stock, lg.in_title, lg.mention.count) == ("LG", False, 1)
    assert lg.in_scope == set()  # 지주사 is written only in the sentence that names LG에너지솔루션
    assert lg.hint() == "LG 1회 지주사 -"


def test_the_title_sentence_is_the_title_however_it_was_spaced():
    aliased = TfidfMatcher(ThemeList(ENTRIES[:5] + [ThemeEntry("증권", "대신증권", "003540", ("증권",))]))
    title = " 대신증권, 증권사 목표가 산정 방식 바꾼다 "  # with 목표가, only as the title does it name a subject
    text = article_text(title, "홍길동 대신증권 연구원은 증권 업황이 좋다고 분석했다.")
    assert generate_outputs(title.strip(), aliased, title, text) == ["증권 = 대신증권", NONE]


def test_without_a_title_no_stock_is_the_title_s(matcher):
    [airline] = article_candidates(matcher, article_text("", "티웨이항공 매각설이 돌았다.\n항공 업계가 주목했다."))
    assert not airline.in_title and airline.in_scope == set()  # 항공 is in another sentence, not a title


def test_theme_evidence_ignores_names(matcher):
    assert theme_evidence("대신증권이 새 지점을 열었다.", "대신증권", matcher) == {}  # 증권 inside the name
    assert set(theme_evidence("증권 업계가 호황이다.", "대신증권", matcher)) == {"증권"}
    assert theme_evidence("유가증권시장에서 거래가 늘었다.", "대신증권", matcher) == {}  # the KOSPI market


def test_a_name_glued_to_the_word_before_it_with_its_code_is_in_its_sentence(matcher):
    text = article_text("기술이전 확대", "향후툴젠(199800) 유전자 치료제 기술을 이전한다.")
    assert [(c.stock, c.tied) for c in article_candidates(matcher, text)] == [("툴젠", True)]


def test_a_name_ending_a_longer_word_hides_no_keyword():
    """디바이스 is listed, but in 온디바이스 it is the end of the theme's own word."""
    matcher = TfidfMatcher(ThemeList([ThemeEntry("온디바이스 AI", "가온칩스", "399720", ("온디바이스",)),
                                      ThemeEntry("반도체 장비", "디바이스", "187870", ("장비",))]))
    assert set(theme_evidence("온디바이스 테마주가 올랐다.", "가온칩스", matcher)) == {"온디바이스 AI"}
    # a distinctive name glued to the word before it is still a name, no keyword
    banks = TfidfMatcher(ThemeList([ThemeEntry("은행", "기업은행", "024110", ()), ThemeEntry("은행", "KB금융", "105560", ())]))
    assert theme_evidence("자료=IBK기업은행", "KB금융", banks) == {}


def test_classify_source_keeps_title_and_candidate_sentences(matcher):
    source = classify_source("툴젠, 기술이전", "툴젠이 유전자 치료제를 이전했다. 날씨가 맑다.", matcher)
    assert source == "후보: 툴젠 제목 2회 유전자 치료제/분석 있음\n툴젠, 기술이전\n툴젠이 유전자 치료제를 이전했다."
    assert classify_source("제목", "본문") == "제목\n본문"


def test_generate_source_hints_the_sentence_candidates(matcher):
    title, body = "반도체 호황", "삼성전자가 반도체 투자를 늘렸다. 툴젠도 같은 날 발표했다."
    text = article_text(title, body)
    # 툴젠 is named once, in a sentence without its theme, and no keyword of it is in the article.
    assert generate_source("툴젠도 같은 날 발표했다.", title, matcher, text) == "후보: 없음\n툴젠도 같은 날 발표했다. 제목: 반도체 호황"
    assert generate_source("삼성전자가 반도체 투자를 늘렸다.", title, matcher, text).startswith(
        "후보: 삼성전자 1회 반도체 대표주(생산) 있음\n")


def test_relevance_source_names_shared_title_words():
    assert relevance_source("툴젠, 유전자 치료제 기술이전", "툴젠이 기술이전 계약을 맺었다.").startswith("공통: 툴젠 기술이전 제목:")
    assert relevance_source("툴젠, 기술이전", "오늘은 맑다.").startswith("공통: 없음 제목:")


def test_relevance_source_with_the_matcher_names_shared_stocks_and_the_themes_that_tie_them(matcher):
    # a theme keyword in the title, a member of that theme in the sentence
    assert relevance_source("반도체 업황 회복 기대", "삼성전자가 설비 투자를 늘렸다.", matcher).startswith(
        "공통: 반도체 대표주(생산) 제목:")
    # the same stock by two names
    assert relevance_source("SK하이닉스, 실적 발표", "하이닉스는 설비 투자를 늘렸다.", matcher).startswith("공통: SK하이닉스 제목:")
    # and the other way round: the title names the member, the sentence has the keyword
    assert relevance_source("툴젠, 기술이전 계약", "유전자 치료제 시장이 커진다.", matcher).startswith(
        "공통: 유전자 치료제/분석 제목:")
    assert relevance_source("툴젠, 기술이전", "오늘은 맑다.", matcher).startswith("공통: 없음 제목:")
    # a name that is both a shared word and a shared stock is listed once; without the matcher only words count
    assert relevance_source("대신증권 실적", "대신증권은 배당을 늘렸다.", matcher).startswith("공통: 대신증권 제목:")
    assert relevance_source("반도체 업황 회복 기대", "삼성전자가 설비 투자를 늘렸다.").startswith("공통: 없음 제목:")


def test_relevance_source_given_the_article_counts_what_it_is_about_as_the_title_s(matcher):
    """/inference: a title need not name the stock its article keeps naming, or the theme it keeps writing."""
    title = "새해 첫 계약 소식"
    body = "툴젠이 유전자 치료제 기술을 이전했다. 툴젠은 다음 달 임상을 시작한다."
    sentence = "툴젠은 다음 달 임상을 시작한다."
    assert relevance_source(title, sentence, matcher).startswith("공통: 없음 제목:")
    assert relevance_source(title, sentence, matcher, article=article_text(title, body)).startswith("공통: 툴젠 ")
    assert article_subjects(matcher, article_text(title, body))[0] == ("툴젠",)
    # named once and not in the title: not what the article is about
    assert article_subjects(matcher, article_text(title, "툴젠이 유전자 치료제 기술을 이전했다."))[0] == ()

    title, sentence = "재계, 수출 최대에도 못 웃는다", "삼성전자는 미국 공장 투자를 이어간다."
    body = f"반도체 수출이 늘었다. 반도체 업황이 좋다. {sentence} 반도체 관세가 변수다."
    assert article_subjects(matcher, article_text(title, body))[1] == {"반도체 대표주(생산)"}
    assert relevance_source(title, sentence, matcher, article=article_text(title, body)).startswith(
        "공통: 반도체 대표주(생산) 제목:")
    twice = f"반도체 수출이 늘었다. {sentence} 반도체 관세가 변수다."  # written twice: not enough
    assert relevance_source(title, sentence, matcher, article=article_text(title, twice)).startswith("공통: 없음 제목:")


def test_a_sentence_does_not_make_itself_what_the_article_is_about(matcher):
    """Only what the rest of the article says counts: a sentence naming a stock twice, or writing a
    keyword three times, shares nothing with an unrelated title for it."""
    title = "원·달러 환율 1450원 돌파"
    sentence = "툴젠은 툴젠 유전자 치료제 공장을 짓는다."
    article = article_text(title, f"외국인 매도가 이어졌다. {sentence}")
    assert article_subjects(matcher, article, sentence) == ((), frozenset())
    assert relevance_source(title, sentence, matcher, article=article).startswith("공통: 없음 제목:")
    sentence = "반도체 경기와 반도체 수출, 반도체 투자가 삼성전자를 이끈다."
    article = article_text(title, f"외국인 매도가 이어졌다. {sentence}")
    assert relevance_source(title, sentence, matcher, article=article).startswith("공통: 없음 제목:")


def test_a_group_opening_the_title_before_another_group_is_a_list(matcher):
    title = "LG, 한화 총수 회동"
    assert found(matcher, article_text(title, "LG는 회동에 참석했다."), title=title) == []
    title = "LG, 자회사 주가 부진에 목표가 하향"
    assert found(matcher, article_text(title, "LG는 지주사다."), title=title) == ["LG"]
    title = "LG, 대상 지분 매각"  # another company's name: its own news
    assert found(matcher, article_text(title, "LG는 지주사다."), title=title) == ["LG"]
