"""Build the default theme list (``data/themes.csv``) from the Naver Finance theme snapshot.

``theme-build-themes`` reads ``naver_themes_2026/theme_stocks.csv`` and the KRX listing from the
shared data folder and writes one row per theme-stock pair with the stock's KRX code and keywords
that evidence the theme in a text, and the common short forms (``aliases``) by which news writes some
stocks (``하이닉스``, ``LG엔솔``, ``네이버``). Keywords come from the theme name itself:
``2차전지(LFP/리튬인산철)`` gives ``2차전지``, ``LFP``, ``리튬인산철``; ``유전자 치료제/분석`` gives
``유전자 치료제``, ``유전자치료제``, ``유전자``. Words too generic to evidence anything alone (``분석``,
``수혜주`` ...) are dropped. A few themes also get the other words news writes them by (``NEWS_FORMS``:
``원전``, ``방산``, ``금융지주``).

Each theme also gets the words of its business (``business``, see ``shared.themes``), mined from the
member companies' overviews (``naver_themes_2026/company_overview.csv``; only the words are kept, never
the overviews' text): words that at least ``BUSINESS_MIN_MEMBERS`` members and a ``BUSINESS_MIN_SHARE``
of them write, of which at least ``BUSINESS_MIN_PRECISION`` of all the companies writing them are
members, and that at most ``BUSINESS_MAX_NEWS_SHARE`` of the news articles write — ``식품`` and
``음료`` for 음식료업종, ``의약품`` and ``제네릭`` for 제약업체. A word goes to the theme whose companies
it marks best; event themes (밸류업, 신규상장), whose members share no business, get none. They are
written on each theme's first row.
"""
from __future__ import annotations

import argparse
import csv
import math
import re
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

from shared.candidates import content_words
from shared.themes import ThemeEntry, ThemeList
from theme_models.data import naver_articles

GENERIC = {
    "분석", "생산", "수혜", "수혜주", "대표주", "관련", "장비", "부품", "소재", "주요종목", "중소형", "개발",
    "기업", "사업", "정책", "업체", "등", "발표", "지수", "신규상장", "개선", "양적", "질적", "제조", "기술",
    "치료제", "진단", "방지", "주", "대표", "국산화", "충전소", "충전기", "화재", "물리", "정보", "생체인식",
    "온라인", "활용", "저장", "산업용", "하반기", "스마트폰", "제고계획", "등",
    # common in any news text, so no evidence for one theme (the Naver corpus's most frequent keywords)
    "국내", "종합", "저가", "안전", "유리", "마이크로", "코리아", "Korea", "전쟁", "유기", "일자리", "취업",
    "피팅", "상장", "중국기업", "국내 상장", "신규", "테마", "관련주",
}
# Latin keywords of one or two characters match inside other words and names (``AR``, ``SI``, ``NI``);
# only these are kept.
SHORT_LATIN_KEPT = {"AI", "IT", "5G", "VR", "XR", "3D"}
# Short forms and former names that Korean financial news uses for listed companies. Only forms that
# name that one company: a group name (``삼성``, ``현대``) or a subsidiary's name (``한국투자증권`` is not
# 한국금융지주) is never an alias.
ALIASES: dict[str, tuple[str, ...]] = {
    "SK하이닉스": ("하이닉스",),
    "LG에너지솔루션": ("LG엔솔", "LG에너지", "엘지에너지솔루션"),
    "삼성바이오로직스": ("삼성바이오",),
    "NAVER": ("네이버",),
    "POSCO홀딩스": ("포스코홀딩스", "포스코그룹 지주사"),
    "현대차": ("현대자동차",),
    "기아": ("기아차",),
    "한국전력": ("한전",),
    "한국가스공사": ("가스공사",),
    "카카오뱅크": ("카뱅",),
    "LG디스플레이": ("LGD",),
    "한화에어로스페이스": ("한화에어로",),
    "HD현대중공업": ("현대중공업",),
    "HD한국조선해양": ("한국조선해양",),
    "HD현대일렉트릭": ("현대일렉트릭",),
    "HD현대마린솔루션": ("현대마린솔루션",),
    "HD현대건설기계": ("현대건설기계",),
    "HD현대인프라코어": ("현대인프라코어", "두산인프라코어"),
    "두산에너빌리티": ("두산중공업",),
    "포스코퓨처엠": ("포스코케미칼",),
    "한화오션": ("대우조선해양",),
    "한국항공우주": ("KAI", "한국항공우주산업"),
    "엔씨소프트": ("엔씨", "NC소프트"),
    "에스엠": ("SM엔터테인먼트", "SM엔터"),
    "와이지엔터테인먼트": ("YG엔터테인먼트", "YG엔터", "YG", "와이지엔터"),
    "JYP Ent.": ("JYP엔터테인먼트", "JYP엔터", "JYP"),
    "아모레퍼시픽": ("아모레",),
    "신한지주": ("신한금융지주", "신한금융"),
    "하나금융지주": ("하나금융",),
    "우리금융지주": ("우리금융",),
    "메리츠금융지주": ("메리츠금융",),
    "KB금융": ("KB금융지주",),
    "한국타이어앤테크놀로지": ("한국타이어",),
    "SK이노베이션": ("SK이노",),
    "SK텔레콤": ("SKT",),
    "LG유플러스": ("LGU+", "LG U+"),
    "에스디바이오센서": ("SD바이오센서",),
    "한올바이오파마": ("한올바이오",),
    "리가켐바이오": ("리가켐", "레고켐바이오", "레고켐"),
    "에이비엘바이오": ("ABL바이오",),
    "금호석유화학": ("금호석유",),
    "S-Oil": ("에쓰오일", "S-OIL", "에쓰-오일"),
    "삼성E&A": ("삼성엔지니어링",),
    "LS ELECTRIC": ("LS일렉트릭", "LS일렉", "엘에스일렉트릭"),
    "레인보우로보틱스": ("레인보우",),
    "엘앤에프": ("L&F",),
    "케이엠더블유": ("KMW",),
    "에이피알": ("APR",),
    "F&F": ("에프앤에프",),
    "한국금융지주": ("한국투자금융지주",),
    "CJ제일제당": ("CJ제당",),
    "HLB생명과학": ("에이치엘비생명과학",),
    "녹십자": ("GC녹십자",),  # the GC group's companies, as news writes them since 2018
    "녹십자웰빙": ("GC녹십자웰빙",),
    "녹십자엠에스": ("GC녹십자엠에스",),
    "녹십자홀딩스": ("GC녹십자홀딩스",),
    "HLB": ("에이치엘비",),
    "이수페타시스": ("페타시스",),
    "현대모비스": ("모비스",),
    "KBI동양철관": ("동양철관",),
    "iM금융지주": ("DGB금융지주", "DGB금융"),
    "현대글로비스": ("글로비스",),
    "KT&G": ("케이티앤지",),
    "두산밥캣": ("밥캣",),
    "에스투더블유": ("S2W",),
    "블리츠웨이엔터테인먼트": ("블리츠웨이",),
    "미래에셋생명": ("미래에셋생명보험",),
    "기업은행": ("IBK기업은행",),
    # the forms news writes before these stocks' own KRX codes (``큐브엔터테인먼트(182360)``): full names
    # the KRX listing shortens, English or Korean spellings, and former names
    "인스웨이브": ("인스웨이브시스템즈",),
    "에코프로머티": ("에코프로머티리얼즈",),
    "큐브엔터": ("큐브엔터테인먼트",),
    "삼성에스디에스": ("삼성SDS",),
    "DS단석": ("디에스단석",),
    "삼성생명": ("삼성생명보험",),
    "동양생명": ("동양생명보험",),
    "에이치와이티씨": ("HYTC",),
    "DB증권": ("DB금융투자",),
    "나노실리칸첨단소재": ("나노브릭",),
    "비트맥스": ("맥스트",),
    "HLB펩": ("애니젠",),
    "PS일렉트로닉스": ("와이팜",),
}
# Words by which news names some themes, which their names do not contain: short forms (API.md's
# own examples say 원전 and 방산), and for 지주사 the full term and the words for the financial
# holding companies (``4대 금융지주``, ``4대 금융그룹``: KB금융, 신한지주 ... are its members).
NEWS_FORMS: dict[str, tuple[str, ...]] = {
    "원자력발전": ("원전",),
    "원자력발전소 해체": ("원전 해체", "원전해체"),
    "방위산업/전쟁 및 테러": ("방산",),
    "지주사": ("지주회사", "금융지주", "금융그룹"),
    # the battery makers and their suppliers, as news writes them
    "2차전지": ("배터리",),
    "2차전지(생산)": ("배터리",),
    "2차전지(소재/부품)": ("배터리 소재", "배터리소재"),
    "2차전지(장비)": ("배터리 장비", "배터리장비"),
    # one-word names that news writes with a space or by the trade
    # not 제약 alone, which is also a constraint
    "제약업체": ("제약사", "제약업계", "제약 업계", "제약주", "제약·바이오", "제약바이오", "CDMO", "위탁개발생산", "바이오주"),
    "전력설비": ("전력 설비", "전력기기", "변압기", "전력 관련주", "전력주", "전력 인프라", "전력인프라"),
    "시스템반도체": ("시스템 반도체",),
    "의료AI": ("의료 AI",),
    "석유화학": ("석화", "화학주", "화학 업종", "화학업종"),
    "인터넷은행": ("인터넷전문은행",),
    "엔터테인먼트": ("엔터주", "엔터사", "엔터 업계", "엔터업계"),
    "강관업체(Steel pipe)": ("강관주", "강관업", "강관 업체", "강관 제조"),  # not 강관 alone: 건강관리
    "음식료업종": ("음식료", "식음료", "식품주", "식품업계", "식품 업계", "식품기업", "식품업체", "음료", "라면주",
              "K-라면", "K푸드", "외식"),  # not 라면 alone: 사실이라면
    "유전자 치료제/분석": ("CAR-T", "카티"),  # Naver files CAR-T makers here (and under 면역항암제)
    "면역항암제": ("CAR-T", "카티"),
    "자원개발": ("가스전", "자원 개발", "대왕고래"),  # the East Sea gas field project
    "캐릭터상품": ("캐릭터 상품", "캐릭터 사업", "캐릭터 라이선싱"),
    # themes whose one-word names news seldom writes
    "소매유통": ("유통업", "유통주", "대형마트", "할인점"),
    "창투사": ("벤처캐피탈", "창업투자"),
    "폴더블폰": ("폴더블",),
    "생명보험": ("생보사", "생보업", "보험주", "보험업", "보험 업종", "보험사"),  # insurers, of either kind
    "손해보험": ("손보사", "손보업", "보험주", "보험업", "보험 업종", "보험사"),  # not 손보 alone: 손보다 (to fix)
    "양자암호/양자컴퓨팅": ("양자컴", "양자 컴퓨", "양자기술", "양자 기술"),
    "바이오인식(생체인식)": ("생체인식", "안면인식", "얼굴인식", "지문인식", "홍채인식"),
    "태양광에너지": ("태양광",),  # news seldom writes these themes' whole names
    "풍력에너지": ("풍력",),
    "핵융합에너지": ("핵융합",),
    "자율주행차": ("자율주행",),
    "비만치료제": ("비만 치료제", "비만약", "GLP-1"),
    "건강기능식품": ("건기식",),
    "사물인터넷": ("IoT",),
    "남북경협": ("경협주",),
    "비철금속": ("비철", "제련", "알루미늄"),
    "은행": ("금융주",),  # a market wrap's word for the bank groups
    "조선기자재": ("조선 기자재",),
    # Latin keywords count only as whole Latin words (shared.themes.TermCounter): their compounds
    "LNG(액화천연가스)": ("FLNG", "LNGC"),
    "전력저장장치(ESS)": ("BESS",),
}
# Business words (module docstring): how many members and what share of them write a word, what share
# of all companies writing it are members, and how many words a theme keeps (the most telling first).
BUSINESS_MIN_MEMBERS = 3
BUSINESS_MIN_SHARE = 0.08
BUSINESS_MIN_PRECISION = 0.4
BUSINESS_WORDS = 12
BUSINESS_MAX_NEWS_SHARE = 0.1  # of the training articles
# Other spellings of a keyword: every keyword containing the first also counts spelled the second way.
SPELLINGS = {"2차전지": "이차전지"}
_SPLIT = re.compile(r"\s*(?:/|,|·|＆|&|\s및\s)\s*")


def theme_keywords(theme: str) -> tuple[str, ...]:
    """Words whose presence in a text evidences ``theme`` (the name itself is always one)."""
    inner = re.findall(r"\(([^()]*)\)", theme)
    head = re.sub(r"\([^()]*\)", "/", theme)
    groups = [_parts(head)] + [_parts(g) for g in inner]
    words: list[str] = []
    for parts in groups:
        lead = parts[0].split() if parts else []
        for i, part in enumerate(parts):
            if i and len(lead) > 1 and " " not in part and part not in GENERIC:
                part = f"{lead[0]} {part}"  # 유전자 치료제/분석 -> 유전자 분석
            words += [part, part.replace(" ", "")]
            first = part.split()[0]
            if " " in part and len(first) >= 2:
                words.append(first)
    keep = [w for w in words
            if len(w) >= 2 and w not in GENERIC and w != theme and not re.match(r"^\d+년?$", w)
            and not (re.fullmatch(r"[A-Za-z0-9]{1,2}", w) and w not in SHORT_LATIN_KEPT)]
    keep += NEWS_FORMS.get(theme, ())
    keep += [w.replace(a, b) for w in keep for a, b in SPELLINGS.items() if a in w]
    return tuple(dict.fromkeys(keep))


def _parts(text: str) -> list[str]:
    text = re.sub(r"\s*등$", "", text.strip())
    return [p.strip() for p in _SPLIT.split(text) if p.strip()]


def build(data_dir: Path) -> ThemeList:
    listing = {}
    with open(data_dir / "krx_listing_2025" / "krx_listing.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            listing[row["stock_code"]] = row["stock_name"]
    entries = []
    with open(data_dir / "naver_themes_2026" / "theme_stocks.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["stock_code"]
            stock = listing.get(code, row["stock_name"])  # the KRX name wins where they differ
            aliases = tuple(a for a in ALIASES.get(stock, ()) if a != stock)
            entries.append(ThemeEntry(row["theme"], stock, code, theme_keywords(row["theme"]), aliases))
    missing = set(ALIASES) - {e.stock for e in entries}
    if missing:
        raise ValueError(f"ALIASES names stocks that are not in the theme list: {sorted(missing)}")
    themes = ThemeList(entries)
    business = business_words(themes, read_overviews(data_dir, themes), news_texts(data_dir))
    first = {}
    for i, e in enumerate(entries):
        first.setdefault(e.theme, i)
    for theme, i in first.items():
        entries[i] = replace(entries[i], business=business.get(theme, ()))
    return ThemeList(entries)


def read_overviews(data_dir: Path, themes: ThemeList) -> dict[str, str]:
    """Stock -> its company overview, for the listed stocks that have one (244 rows of the file hold
    only an English placeholder, ``Company overview not found on the webpage``: skipped)."""
    stock_of = {code: stock for stock, code in themes.codes.items()}
    with open(data_dir / "naver_themes_2026" / "company_overview.csv", encoding="utf-8") as f:
        return {stock_of[row["stock_code"]]: row["overview"] for row in csv.DictReader(f)
                if row["stock_code"] in stock_of and re.search("[가-힣]", row["overview"])}


def news_texts(data_dir: Path) -> list[str]:
    """The training articles' titles and bodies: how common a word is in the news."""
    return [f"{a.title}\n{a.body}" for a in naver_articles(data_dir, "train")]


def business_words(themes: ThemeList, overviews: dict[str, str],
                   news: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Theme -> words of its business, from its members' overviews (module docstring). With ``news``,
    a word found in more than ``BUSINESS_MAX_NEWS_SHARE`` of those texts is dropped: common in any
    story (``포인트`` of 3%포인트, ``외국`` of 외국인, ``받은``), it is no sign of the business."""
    names = {a for aliases in themes.aliases.values() for a in aliases}
    words = {stock: {w for w in content_words(text) if w not in names and _is_business_word(w)}
             for stock, text in overviews.items()}
    writers = Counter(w for ws in words.values() for w in ws)  # companies writing each word
    members: dict[str, list[str]] = defaultdict(list)
    for stock, theme_names in themes.themes_of.items():
        for theme in theme_names if stock in words else ():
            members[theme].append(stock)
    found: dict[str, list[tuple[float, str]]] = {}
    best: dict[str, tuple[float, float, str]] = {}  # word -> (precision, share, theme) of its best theme
    for theme, stocks in members.items():
        if len(stocks) < BUSINESS_MIN_MEMBERS:
            continue
        for word, k in Counter(w for s in stocks for w in words[s]).items():
            share, precision = k / len(stocks), k / writers[word]
            if k < BUSINESS_MIN_MEMBERS or share < BUSINESS_MIN_SHARE or precision < BUSINESS_MIN_PRECISION:
                continue
            found.setdefault(theme, []).append((k * math.log(len(words) / writers[word]), word))
            best[word] = max(best.get(word, (0.0, 0.0, "")), (precision, share, theme))
    common = {w for w in best if news and sum(w in text for text in news) > BUSINESS_MAX_NEWS_SHARE * len(news)}
    return {theme: tuple(w for _, w in sorted(scored, reverse=True)
                         if best[w][2] == theme and w not in common)[:BUSINESS_WORDS]
            for theme, scored in found.items()}


def _is_business_word(word: str) -> bool:
    """Not a nominalised verb that ends an overview's clause (``영위함``, ``구성됨``, ``만듦``; ``게임`` is
    a word), not a Latin word of one or two letters (``on``, ``IC``: they match inside others), not
    one syllable with its particle (``칩을``)."""
    predicate = word.endswith(("함", "됨", "듦")) or word in ("있음", "없음")
    short_latin = re.fullmatch(r"[A-Za-z0-9]{1,2}", word) is not None
    particle = len(word) == 2 and word[1] in "을를은는이가의에도와과로"
    return not (predicate or short_latin or particle)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("data/themes.csv"))
    args = parser.parse_args(argv)
    themes = build(args.data_dir)
    themes.save(args.out)
    print(f"wrote {args.out}: {len(themes)} pairs, {len(themes.themes)} themes, {len(themes.stocks)} stocks")


if __name__ == "__main__":
    main()
