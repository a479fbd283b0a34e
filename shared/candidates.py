"""What each T5 task reads and what it may answer — one definition shared by training and serving.

A small model is not asked to spell company names: for every input the allowed outputs are built
from the active theme list and the text itself, and decoding is constrained to them (see
``shared.t5.OutputTrie``). The model only ranks candidates, so it can never emit a stock that the
text does not mention.

Which listed names count as a mention of the company (``StockFinder``), in order:

1. **Whole words only.** A name (or alias, e.g. ``하이닉스``) must not continue a longer word on the
   left (``플레이`` does not mention 레이), and what follows it must be nothing, punctuation, or Korean
   particles and endings (``툴젠이``, ``삼성전자와의``); ``LG그룹`` or ``포스코이앤씨`` are other names.
   A preferred share names its company (``삼성화재우(8.4%)``), and a name glued to the word before it
   counts when its own KRX code follows it (``향후CJ대한통운(000120)``: the crawl lost a space).
2. **Names that are ordinary words or group names** (``대상``, ``진영``, ``레이``, ``LG``, ``한화``,
   ``DB`` — see ``AMBIGUOUS_NAMES`` and ``GROUP_NAMES``; any name of one or two Hangul syllables or of
   three or fewer Latin letters, unless listed in ``DISTINCTIVE_SHORT_NAMES``) count only with evidence
   that the company is meant: its KRX code beside it (``대상(001680)``), ``(주)``/``㈜``, ``대상 주가``
   or ``대상株``, or a title (or a clause of it) that opens with it and a comma (``영풍, 고려아연 …
   가처분 신청``, ``매출 올랐는데…NHN, 티메프 피해에``).
3. **Brokerages and data vendors quoted as a source** (``대신증권 연구원은``, ``... 미래에셋증권 자료``) do not count:
   a brokerage that signs the title (``…긍정적-유안타``) or whose call the title quotes
   (``LS證 “…목표가도 상향”``) is the source throughout its article; any other stock whose name
   contains ``증권`` counts only in the title, or where a sentence mentions it without the marks of a
   quoted analyst or data source (``SOURCE_MARKS``) and not in a role news gives brokerages in
   others' stories (``BROKER_ROLES``: the underwriter of a deal, a photo credit; ``PERSON_ROLES``,
   right after the name: a person's department or former employer) nor as the subject of its
   research's view (``ANALYST_LEAD``: ``키움증권은 19일 현대차에 대해``, ``…다고 봤다``).
4. **Publishers named as the venue** (``PUBLISHERS``): a listed broadcaster or newspaper does not
   count where news names it as where something was said, shown or signed (``VENUE_AFTER``:
   ``한국경제TV에 출연한``, ``아시아경제와의 인터뷰``, ``한국경제TV 김채영입니다``).
5. **Comparables** (``PEER_MARKS``): no stock, a brokerage neither, counts after the words that name
   the yardstick of another company's valuation (``비교기업으로는 티에스이, 제이티, 엔시스를 선정했다``).

The allowed answers pair each such stock with those of its member themes that the text evidences
(``theme_evidence``: a keyword of the theme occurs in the article outside listed names, or, for a
stock the title names or a brokerage the body writes about again and again, in its own name:
``_name_evidence``), and where some are evidenced in the stock's own scope, only those
(``Candidate.offered``). A stock the article is about (named in its title, or
``MIN_SUBJECT_MENTIONS`` times) whose themes' keywords it never writes may be evidenced by the words
of a theme's business instead (``_business_evidence``: ``식품`` for 삼양식품 in a story on its 불닭
ramen), in the title or the sentences that name it. A stock with no evidence in its own scope, listed
in one sentence with two others of a theme the article evidences, is tied to that theme as if the
sentence wrote its keyword (a market wrap's sector movers: ``_tie_sector_lists``). A stock whose
themes the article never touches is not offered at all, and 증권 is offered only to brokerages and
financial holding companies (Naver files the groups owning a brokerage, 현대차 or 한화, under it too:
``_member_themes``). Which of the offered stocks the article really ties to a theme, and by which
theme, is the model's choice.
"""
from __future__ import annotations

import re
import weakref
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from shared.pairs import NONE, format_pair
from shared.tfidf import NOT_KEYWORDS, TfidfMatcher
from shared.themes import TermCounter, ThemeList, terms_pattern

if TYPE_CHECKING:  # shared.related imports this module
    from shared.related import RelatedWords

RELATED, UNRELATED = "related", "unrelated"
RELEVANCE_OUTPUTS = [RELATED, UNRELATED]

# Listed names that are also everyday Korean words or English loanwords (found as ordinary words in
# KorSTS / the Korean Financial PhraseBank, or read in the Naver corpus), and names of groups whose
# holding company is listed under the group's own name.
AMBIGUOUS_NAMES = frozenset({
    "대상", "진영", "레이", "테스", "디바이스", "남성", "레몬", "배럴", "진도", "신흥", "미코", "나노", "상보",
    "선진", "동양", "서한", "대원", "신원", "대교", "동서", "서남", "노을", "코디", "캐리", "러셀", "오로라",
    "스피어", "유니온", "서산", "삼일", "성우", "디오", "알트", "웹스", "야스", "피노", "딜리", "오아", "아스트",
    "캐프", "서원", "율촌", "대동", "동방", "유신", "화신", "영흥", "우진", "우성", "핑거", "베셀", "포톤",
    "컨텍", "하츠", "파수", "누보", "넥센", "엔피", "대모", "이렘", "뉴온", "한독", "태성", "삼영", "한창",
    "대성", "NEW", "CS", "EG", "SG", "TP", "KD", "KX", "E1", "E8", "3S", "LF", "NPC", "SBS", "GRT", "APS",
    "오리온", "나무가", "우리로", "아스타", "부스타", "이마트", "에이프로", "원익", "삼진", "코텍", "힘스",
    "세중", "덕성", "대현", "선광", "조흥", "세동", "일승", "승일", "서흥", "대창", "삼현", "삼기", "혜인",
    "원준", "광무", "세방", "오텍", "한탑", "풍강", "두올", "인팩", "서연", "우양", "조비", "경농", "벽산",
    "파루", "센코", "위츠", "앱튼", "쿠콘", "팬젠", "퓨릿", "팸텍", "하스", "본느", "삐아", "엔젯", "닷밀",
    "솔본", "산돌", "알톤", "세방", "트윔", "제닉", "더즌", "꿈비", "핀텔", "지슨", "태웅", "한켐", "핌스",
    "웅진", "흥국", "태광", "하림", "동원", "한진", "화승",
})
GROUP_NAMES = frozenset({
    "LG", "SK", "한화", "DB", "LS", "GS", "CJ", "효성", "두산", "HD현대", "코오롱", "한진", "HDC", "BGF", "NICE",
    "KCC", "OCI", "DL", "LX홀딩스", "HS효성", "대웅", "녹십자", "대상홀딩스",
})
# Short names common enough in the news that they almost always mean the company.
DISTINCTIVE_SHORT_NAMES = frozenset({
    "기아", "농심", "휴젤", "툴젠", "루닛", "뷰노", "안랩", "씨젠", "보령", "웹젠", "한샘", "풍산", "쏘카", "샘표",
    "한섬", "KT", "엠로", "엔켐", "천보", "후성", "심텍", "고영", "다날", "무학", "리노", "HMM", "KT&G", "SKC",
    "TKG", "HPSP", "ISC", "KEC", "YTN", "SOOP", "LIG", "KAI", "SKT", "LGD", "APR", "KMW", "JYP", "YG", "L&F",
    "엔씨", "한전", "카뱅", "다우", "넵튠", "엑셈", "인콘", "코콤", "스맥", "톱텍", "엑스", "야놀", "빅텍", "바텍",
    "아톤", "윈팩", "대덕", "한싹", "티웨이",
})
# Firms that news quotes as a data source far more often than it writes about them.
SOURCE_FIRMS = frozenset({"에프앤가이드", "NICE평가정보", "한국기업평가", "NICE"})
_PRICE = r"\d[\d,.]*\s?만\s?[\d,.]*\s?원"  # a price of 만원 or more: 100만원, 4만4000원 (not 1200원)
# Words that mark a sentence as quoting an analyst or a data source rather than being about the firm
# (an estimate, but not the market's: a brokerage's results beat ``시장 예상치``).
SOURCE_MARKS = re.compile(
    r"연구원|애널리스트|센터장|리서치|전략가|이코노미스트|목표\s?주?가|투자의견|보고서|리포트|에 따르면|자료|집계"
    r"|(?<!시장 )(?<!시장)(?:추정|예상|전망)치"
    r"|분석했|전망했|추정했|예상했|내다봤|평가했|진단했|조언했|판단했|지적했"
    rf"|{_PRICE}(?:으로|을|를)\s?(?:각각\s?)?(?:상향|하향|제시|올렸|올려|내렸|낮췄|낮춰)"
)  # ... and a price call: ``100만원으로 상향 조정했다``, ``기존 3만9000원에서 5만원으로 올렸다``
# Listed publishers and broadcasters, which news names as where something was said, shown or reported:
# what follows the name (``한국경제TV에 출연한``, ``한국경제TV에서 양 팀장은``, ``아시아경제와의 인터뷰``,
# ``YTN 보도``, ``… 취재 결과``, a programme: ``한국경제TV <투자의 재발견>``, ``한국경제TV ‘진짜 주식’``,
# a signature: ``한국경제TV 김채영입니다``, ``… 김민수 기자``), or ``※`` before it in its sentence.
PUBLISHERS = frozenset({"한국경제TV", "아시아경제", "YTN", "SBS", "iMBC", "디지틀조선", "KNN", "티비씨"})
VENUE_AFTER = re.compile(r"(?:\s?방송)?에\s?출연|에서\s|(?:와|과)(?:의|\s?가진)?\s?인터뷰|\s?인터뷰|\s?보도|\s?취재"
                         r"|\s*[<《〈‘'\"“]|\s+\S+\s?기자|\s+\S+입니다")
# Listed companies named after these in a sentence are the yardstick of another's valuation (an IPO's
# comparables, ``비교기업으로는 티에스이, 제이티, …을 선정했다``), not its subjects (``유사기업 대비`` is no list).
PEER_MARKS = re.compile(r"(?:비교\s?(?:기업|회사|대상\s?기업)|유사\s?기업|피어\s?그룹)(?:으로는|으로|로는|로|에는|은|는|이|가)\s")
# Roles in which news names a brokerage in another company's story: arranging its deal (주관사, 인수단)
# or a photo credit, anywhere in the sentence; a person's department or former employer, right after
# the name (``정효영 미래에셋증권 연금컨설팅본부 본부장``, ``NH투자증권 대표를 상임고문으로``).
BROKER_ROLES = re.compile(r"주관(?!적)|인수단|사진\s?=")
# The brokerage as the subject of its research's view, right after its name: a note's dated lead
# (``키움증권은 19일 현대차에 대해``) or its verdict (``키움증권은 … 훼손되지 않았다고 봤다``, ``… 유망 종목으로
# 꼽았다``; not its own loss, ``… 손실을 봤다``).
ANALYST_LEAD = r"(?:은|는)\s(?:\d{1,2}일\s(?:\S+\s)?\S+에 대해|.*(?:다고|것으로|으로|라고)\s?(?:봤다|꼽았다))"
PERSON_ROLES = r"\S{0,3}\s*(?:출신|(?:\S+\s+){0,2}\S*(?:본부장|팀장|연구위원|고문))"
# A brokerage's call on a stock, as a title quotes it (``LS證 “하나금융, 목표가도 상향”``).
CALL_MARKS = re.compile(r"목표\s?주?가|투자의견|매수|상향|하향|최선호|톱픽")
# Naver files the groups that own a brokerage (현대차, 한화, LS, DB, SK) under 증권 too, but a story on
# them is never a brokerage story: 증권 is offered only to brokerages and financial holding companies.
BROKERAGE_THEME = "증권"
# Words before 기업/업체 that say what kind of firm in general, not which one: ``중소기업 대상의 지원`` is
# no company 대상, ``완성차업체 진영은`` no 진영 (``_has_evidence``).
GENERIC_KINDS = frozenset({
    "대", "중소", "중견", "공", "협력", "납품", "하청", "완성차", "상장", "비상장", "관련", "해당", "국내", "해외", "외국",
    "글로벌", "일반", "주요", "대형", "중소형", "개별", "민간", "수출", "피투자", "투자", "입주", "참여", "경쟁", "동종",
})
# Names that contain a theme keyword but are no evidence for it: the central and policy banks are not
# the listed banks' business, and the 증권 of 증권가 and 유가증권(시장) is the market, not a brokerage.
NOT_EVIDENCE = ("한국은행", "한은", "산업은행", "수출입은행", "세계은행", "증권가", "유가증권")
# Particles and endings that may follow a name inside one written word (툴젠이, 삼성전자와의, 기아株).
_ENDINGS = sorted({
    "은", "는", "이", "가", "을", "를", "의", "에", "와", "과", "도", "로", "으로", "만", "에서", "에게", "께", "까지",
    "부터", "보다", "처럼", "마저", "조차", "이나", "나", "이며", "며", "이다", "다", "이고", "고", "인", "이라", "라",
    "이란", "란", "이자", "자", "이지만", "지만", "였", "이었", "었", "던", "이던", "엔", "선", "측", "주", "株", "사",
    "등", "들", "서", "요", "랑", "이랑", "하고", "야", "여", "대비", "보단", "마다", "뿐", "밖에", "쪽", "처럼",
    "이라는", "라는", "이라고", "라고", "에선", "와도", "과도", "로서", "로써", "으로서", "으로써", "는데", "인데",
}, key=len, reverse=True)
_HANGUL_RUN = re.compile(r"[가-힣株]+")
_CLAUSE_START = r"(?:^|(?:[…\])」』\"'“”‘’]|\.\.\.)\s*)"  # a title's start, or a clause's in it
_PREFERRED = re.compile(r"우[은는이가을를의와과도에로]?")  # a preferred share, with a particle (not 우려, 우주)
_WORD_CHAR = re.compile(r"[가-힣A-Za-z0-9&]")
_CODE_AFTER = re.compile(r"\s*\(\s*(\d{6})")  # a KRX code after a name: 툴젠(199800)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[다요죠]\.)(?=[^\s\d.,'\"’”)\]])|\s*\n\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences of a title or body: after ``. ! ?`` and a space, after ``다.`` even with no space
    (``물질이다.순시홀딩스그룹은`` is two sentences), and at line breaks."""
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``split_sentences``, whitespace trimmed."""
    spans, start = [], 0
    for sep in [*_SENTENCE_END.finditer(text), None]:
        end = sep.start() if sep else len(text)
        piece = text[start:end]
        lead, trail = len(piece) - len(piece.lstrip()), len(piece) - len(piece.rstrip())
        if lead < len(piece):
            spans.append((start + lead, end - trail))
        if sep:
            start = sep.end()
    return spans


@dataclass
class Mention:
    stock: str
    count: int = 0
    first: int = -1  # character offset of the first counted mention
    names: set[str] = field(default_factory=set)  # the names and aliases found


class StockFinder:
    """Finds the listed stocks a text mentions, by the rules in the module docstring."""

    def __init__(self, themes: ThemeList) -> None:
        self.themes = themes
        self.stock_of = {alias: stock for stock, names in themes.aliases.items() for alias in names}
        self._pattern = terms_pattern(self.stock_of)

    def find(self, text: str, context: str | None = None, title: str = "") -> dict[str, Mention]:
        """Stocks mentioned in ``text``, in order of first mention; ``context`` (default ``text``) is
        where evidence for an ambiguous name or a brokerage's role may also be found, ``title`` the
        article's title (a brokerage named there is a subject, not a source)."""
        if self._pattern is None:
            return {}
        context = text if context is None else context
        found: dict[str, Mention] = {}
        for match in self._pattern.finditer(text):
            name = match.group()
            stock = self.stock_of[name]
            if not self._whole_word(text, match.start(), match.end()):
                continue
            if self._continues(text, match.start()) and not self._coded(text, match.end(), stock):
                continue  # glued to the word before it, it counts only with its own code
            mention = found.setdefault(stock, Mention(stock, first=match.start()))
            mention.count += 1
            mention.names.add(name)
        return {s: m for s, m in found.items() if self._counts(m, text, context, title)}

    def mask_names(self, text: str) -> str:
        """``text`` with every listed name and alias replaced by spaces of the same length, but not an
        ordinary word's end (``레이`` in ``디스플레이``, ``디바이스`` in ``온디바이스``: keywords). A
        distinctive name glued to the word before it is still a name (``IBK기업은행``, ``1NH투자증권``)."""
        if self._pattern is None:
            return text

        def mask(match: re.Match) -> str:
            name, start = match.group(), match.start()
            inside = self._continues(text, start) and needs_evidence(name) and not _CODE_AFTER.match(text, match.end())
            return name if inside else " " * len(name)
        return self._pattern.sub(mask, text)

    @staticmethod
    def _continues(text: str, start: int) -> bool:
        """Whether a match at ``start`` goes on from a longer word on its left (a ``다`` before it is
        taken as a sentence end whose space was lost: ``했다엔씨소프트의``)."""
        return start > 0 and _WORD_CHAR.match(text[start - 1]) is not None and text[start - 1] != "다"

    def _coded(self, text: str, end: int, stock: str) -> bool:
        """Whether the stock's KRX code follows a name: then it is the stock whatever comes before
        (``향후CJ대한통운(000120)``, ``에이치디현대중공업(329180)``, spaces lost in the crawl)."""
        code = _CODE_AFTER.match(text, end)
        return code is not None and code.group(1) == self.themes.codes.get(stock)

    @staticmethod
    def _whole_word(text: str, start: int, end: int) -> bool:
        """Whether a match is a word of its own: not the end of a longer word (unless a KRX code
        follows it: the crawl lost a space), and followed by nothing, punctuation or endings."""
        if StockFinder._continues(text, start) and not _CODE_AFTER.match(text, end):
            return False
        rest = text[end:end + 12]
        if text[end - 1].isascii() and text[end - 1].isalnum() and rest[:1].isascii() and rest[:1].isalnum():
            return False
        run = _HANGUL_RUN.match(rest)
        # 우 marks a preferred share (삼성화재우, LG화학우(051915), 덕성우는): market wraps list it as the company
        return run is None or _is_endings(run.group()) or _PREFERRED.fullmatch(run.group()) is not None

    def _counts(self, mention: Mention, text: str, context: str, title: str) -> bool:
        stock = mention.stock
        # a name needs evidence when it is the stock's own and the stock does (LG), or when it is an alias
        # that would by itself (녹십자 does, its alias GC녹십자 not)
        ambiguous = all(needs_evidence(stock) if n == stock else needs_evidence(n) for n in mention.names)
        headline = context.partition("\n")[0]  # the article's title, when the context is one
        if ambiguous and not any(_has_evidence(n, self.themes.codes.get(stock, ""), context)
                                 or self._opens_title(n, headline) for n in mention.names | {stock}):
            return False
        if is_source_firm(stock) and not _named_as_subject(mention.names, text, title):
            return False
        return _named_outside_roles(mention, text)

    def _opens_title(self, name: str, title: str) -> bool:
        """Whether the title opens with the name, or a clause of it does (after ``…`` or ``...``, a quote
        mark or a closing bracket: ``(종합) 영풍,``), followed by a comma: the headline form of a
        company's own news (``영풍, 고려아연 임시주총 효력정지 가처분 신청``, ``매출 올랐는데…NHN, 티메프
        피해에``, ``"효성, … 최대 수혜"-iM``, ``한화, 한화솔루션 흑자전환으로``). Not when the names are a
        list (``LG, 한화, 삼성 총수 회동``; a group before another group, ``LG, 한화 총수 회동``), nor after
        ``·`` (``삼성·한화, 3.7兆 규모 잇단 인수``): those name groups."""
        for opening in re.finditer(rf"{_CLAUSE_START}{re.escape(name)},\s*", title):
            after = self._pattern.match(title, opening.end()) if self._pattern else None
            if after is None:
                return True
            if title[after.end():after.end() + 1] not in ",·" and not (name in GROUP_NAMES and
                                                                      after.group() in GROUP_NAMES):
                return True
        return False


def _named_outside_roles(mention: Mention, text: str) -> bool:
    """Whether ``text`` names the stock once at least outside the roles news gives companies in other
    stories (rules 4 and 5): a publisher as the venue (``VENUE_AFTER``), any company after
    ``PEER_MARKS`` in its sentence (a comparable)."""
    publisher = mention.stock in PUBLISHERS
    if not publisher and not PEER_MARKS.search(text):
        return True
    for sentence in split_sentences(text):
        peers = PEER_MARKS.search(sentence)
        for name in mention.names:
            for match in re.finditer(re.escape(name), sentence):
                start, end = match.span()
                if not StockFinder._whole_word(sentence, start, end) or (peers and peers.start() < start):
                    continue
                if publisher and (VENUE_AFTER.match(sentence, end) or "※" in sentence[:start]):
                    continue
                return True
    return False


def is_source_firm(stock: str) -> bool:
    """Brokerages and data vendors: usually quoted, counted only where named as a subject."""
    return ("증권" in stock and "스팩" not in stock) or stock in SOURCE_FIRMS


def needs_evidence(stock: str) -> bool:
    """Whether a name is too likely to mean something else to count without evidence."""
    if stock in DISTINCTIVE_SHORT_NAMES:
        return False
    if stock in AMBIGUOUS_NAMES or stock in GROUP_NAMES:
        return True
    hangul = re.fullmatch(r"[가-힣]{1,2}", stock) is not None
    latin = re.fullmatch(r"[A-Za-z0-9&]{1,3}", stock) is not None
    return hangul or latin


def _has_evidence(name: str, code: str, text: str) -> bool:
    """The company's code beside the name, ``(주)``/``㈜``, ``주가``/``株``, its price move
    (``율촌(3.88%)``, ``대상(+1.2%)``), a brokerage's call on it (``HD현대에 대해 투자의견 매수``), the
    name after the kind of company it is (``이차전지 소재 전문기업 광무의``, ``패션기업 F&F가``). (A title
    opening with the name is evidence too: ``StockFinder._opens_title``.)"""
    n = re.escape(name)
    code_part = rf"|{n}\s*\([^()]{{0,12}}{code}" if code else ""
    move = rf"|{n}우?\s*\(\s*[+-]?\d+(?:\.\d+)?\s*%\s*\)"  # 우: its preferred share's move
    call = rf"|{n}(?:에 대해|에 대한|의)\s?(?:투자의견|목표\s?주?가(?!격))"
    if re.search(rf"\(주\)\s*{n}|㈜\s*{n}|{n}\s*(?:\(주\)|㈜|주가|株){code_part}{move}{call}", text):
        return True
    kinds = re.finditer(rf"(?:(\S+)(?:기업|업체)|제조사)인?\s+{n}(?:[은는이가의와과,·]|\s등)", text)
    return any(kind.group(1) not in GENERIC_KINDS for kind in kinds)


def _named_as_subject(names: set[str], text: str, title: str) -> bool:
    """Whether a brokerage is written about rather than quoted, credited or listed (rule 3). The
    source the title names is the source throughout its article."""
    if any(_signs(n, title) for n in names):
        return False
    return _names(names, title) or _subject_sentences(names, text) > 0


def _subject_sentences(names: set[str], text: str) -> int:
    """How many sentences of ``text`` write about the brokerage: name it without the marks of a quoted
    source, of a role in another's story, or of its signature."""
    return sum(any(_names({n}, s) and not _signs(n, s) and not re.search(re.escape(n) + PERSON_ROLES, s)
                   and not re.search(re.escape(n) + ANALYST_LEAD, s) for n in names)
               and not SOURCE_MARKS.search(s) and not BROKER_ROLES.search(s) for s in split_sentences(text))


def _signs(name: str, sentence: str) -> bool:
    """Whether a title names its source: signed at its end by the brokerage's name or the start of it
    (``…이익 전망 긍정적-유안타`` for 유안타증권), or quoting the brokerage's call, by its name or
    with 證 for 증권 (``LS證 “…목표가도 상향”`` for LS증권, ``유진證 “…”`` for 유진투자증권)."""
    signer = re.search(r"-\s*([^\s\-]{2,})$", sentence.rstrip(" \t)]」』"))
    firm = signer.group(1).removesuffix("證").removesuffix("증권") if signer else ""
    if len(firm) >= 2 and name.startswith(firm):
        return True
    forms = {name}
    if name.endswith("증권"):  # 증권 written 證
        forms.add(name.removesuffix("증권") + "證")
    if name.endswith("투자증권"):  # ... and by the name before 투자증권 (유진투자증권: 유진證)
        forms.add(name.removesuffix("투자증권") + "證")
    return (any(re.search(rf"{re.escape(form)}\S{{0,3}}\s*[“\"'‘]", sentence) for form in forms)
            and CALL_MARKS.search(sentence) is not None)


def _names(names: set[str], text: str) -> bool:
    """Whether ``text`` writes one of ``names`` as a word of its own (``한화`` is not in ``한화오션``)."""
    return any(StockFinder._whole_word(text, m.start(), m.end())
               for n in names for m in re.finditer(re.escape(n), text))


def _is_endings(run: str) -> bool:
    """Whether a run of Hangul is made only of particles and endings (``와의``, ``으로는``)."""
    if not run:
        return True
    return any(run.startswith(e) and _is_endings(run[len(e):]) for e in _ENDINGS)


def theme_evidence(text: str, stock: str, matcher: TfidfMatcher) -> dict[str, float]:
    """Member themes of ``stock`` with keyword evidence in ``text``: theme -> sum of idf × count.
    Listed names and ``NOT_EVIDENCE`` are blanked out first (``증권`` in ``NH투자증권`` is no evidence;
    see ``evidence_text``)."""
    return _evidence(matcher._terms.count(evidence_text(text, matcher)), stock, matcher)


def evidence_text(text: str, matcher: TfidfMatcher) -> str:
    """``text`` with listed names (not an ordinary word's end: ``StockFinder.mask_names``) and
    ``NOT_EVIDENCE`` blanked out, character for character (so a span of ``text`` is the same span here)."""
    text = stock_finder(matcher).mask_names(text)
    for name in NOT_EVIDENCE:
        text = text.replace(name, " " * len(name))
    return text


def _evidence(terms, stock: str, matcher: TfidfMatcher) -> dict[str, float]:
    """``theme_evidence`` from the keyword counts of an ``evidence_text``."""
    themes, scores = matcher.themes, {}
    for theme in _member_themes(stock, matcher):
        keywords = themes.keywords[theme]
        score = sum(k * matcher.idf[t] for t, k in terms.items() if t in keywords)
        if score > 0:
            scores[theme] = score
    return scores


def _member_themes(stock: str, matcher: TfidfMatcher) -> list[str]:
    """The themes ``stock`` may be offered with: its member themes, but ``BROKERAGE_THEME`` only for a
    brokerage or a financial holding company (``한국금융지주``), not for a group owning one (``현대차``)."""
    themes = matcher.themes.themes_of.get(stock, [])
    if BROKERAGE_THEME in themes and not (is_source_firm(stock) or "금융지주" in stock):
        return [t for t in themes if t != BROKERAGE_THEME]
    return themes


_FINDERS: "weakref.WeakKeyDictionary[TfidfMatcher, StockFinder]" = weakref.WeakKeyDictionary()


def stock_finder(matcher: TfidfMatcher) -> StockFinder:
    """The finder for a matcher's theme list, built once per matcher."""
    finder = _FINDERS.get(matcher)
    if finder is None:
        finder = _FINDERS[matcher] = StockFinder(matcher.themes)
    return finder


# -- the three tasks ---------------------------------------------------------------------------------

def article_text(title: str, body: str) -> str:
    """Title and body on separate lines, so the title is always its own sentence. Without a title the
    first line is empty: the body's first line is no title."""
    text = f"{title}\n{body}".strip()
    return text if title.strip() else f"\n{text}"


# -- what the model is told about each candidate ----------------------------------------------------

MIN_SUBJECT_MENTIONS = 2  # a stock named this often is a subject of the article
ARTICLE_THEME_MENTIONS = 3  # a theme whose keywords an article writes this often is one of its subjects
IN_SCOPE, NOT_IN_SCOPE = "있음", "-"


@dataclass
class Candidate:
    """A stock the article names, with the evidence the model decides on."""

    stock: str
    mention: Mention
    in_title: bool
    themes: list[str]  # member themes the article evidences, best first (see ``article_candidates``)
    in_scope: set[str]  # those evidenced in the stock's own scope (or by a sector list: ``_tie_sector_lists``)

    @property
    def tied(self) -> bool:
        """The rule the training labels follow: evidence in its own scope, or named again and again."""
        return bool(self.in_scope) or self.mention.count >= MIN_SUBJECT_MENTIONS

    @property
    def offered(self) -> list[str]:
        """The themes an answer may give it: those evidenced in its own scope, else all it has."""
        return [t for t in self.themes if t in self.in_scope] or self.themes

    def hint(self) -> str:
        """``툴젠 제목 3회 유전자 치료제/분석 있음 , 면역항암제 -``."""
        where = ("제목 " if self.in_title else "") + f"{self.mention.count}회"
        marks = " , ".join(f"{t} {IN_SCOPE if t in self.in_scope else NOT_IN_SCOPE}" for t in self.themes)
        return f"{self.stock} {where} {marks}"


@lru_cache(maxsize=64)
def article_candidates(matcher: TfidfMatcher, text: str) -> tuple[Candidate, ...]:
    """The stocks ``text`` (``article_text(title, body)``) offers, in order of first mention.

    A stock's *scope* is the whole article when the title names it, else the title and the sentences
    that name it. Its themes are those the article evidences (for the title's stocks and a brokerage
    written about, their own names count too: ``_name_evidence``), ordered by evidence in the scope,
    then in the whole article, then the theme list's order. Where the article writes no keyword of
    its themes, a stock it is about gets those whose business words the title and the sentences
    naming it write (``_business_evidence``)."""
    title, _, body = text.partition("\n")
    offset = len(text) - len(body)
    spans = [(start + offset, end + offset) for start, end in sentence_spans(body)]
    masked = evidence_text(text, matcher)  # masked once: a scope is cut from it by the same spans
    whole_terms = matcher._terms.count(masked)
    out, naming = [], {}  # naming: stock -> the body sentences (indices of spans) that name it
    for stock, mention in stock_finder(matcher).find(text, title=title).items():
        in_title = _names(mention.names, title)
        named = _name_evidence(stock, mention, matcher) if in_title or _written_about(mention, body) else {}
        whole = _plus(_evidence(whole_terms, stock, matcher), named)
        subject = in_title or mention.count >= MIN_SUBJECT_MENTIONS
        if not (whole or subject):
            continue  # a passing mention: its sentences are never split out
        naming[stock] = [i for i, (a, b) in enumerate(spans) if _names(mention.names, text[a:b])]
        scope = "\n".join([masked[:len(title)]] + [masked[slice(*spans[i])] for i in naming[stock]])
        if whole:
            own = whole if in_title else _evidence(matcher._terms.count(scope), stock, matcher)
        else:  # its business, in its own sentences
            terms = _business_counter(matcher).count(scope + _names_text(mention, in_title))
            whole = own = _business_evidence(terms, stock, matcher)
        if not whole:
            continue
        order = {t: i for i, t in enumerate(matcher.themes.themes_of[stock])}
        themes = sorted(whole, key=lambda t: (-own.get(t, 0.0), -whole[t], order[t]))
        out.append(Candidate(stock, mention, in_title, themes, set(own)))
    _tie_sector_lists(out, naming)
    return tuple(out)


SECTOR_LIST_PEERS = 2  # a stock listed with this many others of a theme the article evidences is tied to it


def _tie_sector_lists(candidates: list[Candidate], naming: dict[str, list[int]]) -> None:
    """In place: a candidate with no theme evidenced in its own scope, named in a body sentence
    (``naming``: stock -> the sentences naming it) that lists at least ``SECTOR_LIST_PEERS`` other
    candidates of one of its evidenced themes, is tied to that theme as if the sentence wrote its
    keyword, and offered only such themes: a market wrap's list of a sector's movers (``금호건설이
    9.41% … HDC현대산업개발(7.68%), GS건설(6.94%) 등도 급등`` in a story on 건설 stocks). Readers label
    such members: 77 of the 104 stocks it ties in the 1,277 reader-labelled articles, against 141 of
    the 366 candidates left untied. (A stock named twice, tied already, is narrowed to the listed
    themes the same way.)"""
    for c in candidates:
        if c.in_scope:
            continue
        for i in naming[c.stock]:
            listed = [d for d in candidates if d is not c and i in naming[d.stock]]
            c.in_scope |= {t for t in c.themes if sum(t in d.themes for d in listed) >= SECTOR_LIST_PEERS}
        if c.in_scope:  # the listed themes first, each group in its evidence order (the sort is stable)
            c.themes.sort(key=lambda t: t not in c.in_scope)


def _written_about(mention: Mention, body: str) -> bool:
    """Whether ``mention`` is of a brokerage that ``MIN_SUBJECT_MENTIONS`` sentences of the body write
    about (its sentences are only split when it is named that often at all)."""
    return (is_source_firm(mention.stock) and mention.count >= MIN_SUBJECT_MENTIONS
            and _subject_sentences(mention.names, body) >= MIN_SUBJECT_MENTIONS)


def _name_evidence(stock: str, mention: Mention, matcher: TfidfMatcher) -> dict[str, float]:
    """Member themes whose keywords the stock's own name writes (``티웨이항공`` → 항공, ``미래에셋증권`` →
    증권, ``와이지엔터테인먼트`` → 엔터테인먼트): evidence where the title names the stock, since news
    seldom repeats the sector its subject's name already says, and for a brokerage the body writes
    about again and again (``_written_about``, not quoting it), whose own results or services it
    reports. (Not for other stocks named only in the body: 제주항공 named in a new-year article for its
    crash is no 항공 story.)"""
    return _evidence(matcher._terms.count(" ".join(sorted(mention.names | {stock}))), stock, matcher)


def _names_text(mention: Mention, in_title: bool) -> str:
    """The stock's names, as a text its business words may be found in (``식품`` in ``삼양식품``), for a
    stock the title names (``_name_evidence``)."""
    return "\n" + " ".join(sorted(mention.names | {mention.stock})) if in_title else ""


_BUSINESS: "weakref.WeakKeyDictionary[TfidfMatcher, TermCounter]" = weakref.WeakKeyDictionary()


def _business_counter(matcher: TfidfMatcher) -> TermCounter:
    """Counts the theme list's business words (``shared.themes``), built once per matcher."""
    counter = _BUSINESS.get(matcher)
    if counter is None:
        words = {w for theme in matcher.themes.themes for w in matcher.themes.business.get(theme, ())}
        counter = _BUSINESS[matcher] = TermCounter(words, NOT_KEYWORDS, whole_latin=True)
    return counter


def _business_evidence(terms, stock: str, matcher: TfidfMatcher) -> dict[str, float]:
    """Member themes of ``stock`` whose business words occur: theme -> how often. The evidence of last
    resort, for a stock the article is about (named in its title or again and again) whose themes'
    keywords it never writes: 삼양식품 in a story on 불닭 ramen sales (``식품``), a holding company on its
    subsidiaries (``자회사``)."""
    business = matcher.themes.business
    scores = {t: float(sum(k for w, k in terms.items() if w in business.get(t, ())))
              for t in _member_themes(stock, matcher)}
    return {t: score for t, score in scores.items() if score > 0}


def _plus(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {t: a.get(t, 0.0) + b.get(t, 0.0) for t in a.keys() | b.keys()}


def reads_hints(meta: dict) -> bool:
    """Whether a model reads the candidates' hints before the text: ``theme-train`` models say so in
    their ``theme_model.json`` (``"inputs": "hints"``); any other T5 (a user's own checkpoint) is given
    the plain text, the title and the body."""
    return meta.get("inputs") == "hints"


def hints(candidates) -> str:
    return " ; ".join(c.hint() for c in candidates) or NONE


# -- the three tasks ---------------------------------------------------------------------------------

def classify_source(title: str, body: str, matcher: TfidfMatcher | None = None) -> str:
    """The classifier's input. With the matcher (as the shipped model was trained): what the text
    offers (``후보: `` and each candidate's hint), then the title and only the body's sentences that
    name a candidate — the rest cannot tie a stock to a theme, and a short input keeps a small model
    fast on CPU. Without it, the whole article."""
    if matcher is None:
        return article_text(title, body)
    candidates = article_candidates(matcher, article_text(title, body))
    names = {n for c in candidates for n in c.mention.names}
    # a substring test, not ``_names``: the shipped model was trained on the sentences it keeps
    kept = [x for x in split_sentences(body) if any(n in x for n in names)]
    return f"후보: {hints(candidates)}\n{article_text(title, ' '.join(kept))}"


def classify_outputs(text: str, matcher: TfidfMatcher) -> list[str]:
    """``theme = stock`` for every stock the article offers with each theme it offers it
    (``Candidate.offered``), and ``없음``. ``text`` is ``article_text(title, body)``: its first line is
    the title."""
    pairs = [format_pair(t, c.stock) for c in article_candidates(matcher, text) for t in c.offered]
    return pairs + [NONE]


def _sentence_candidates(sentence: str, matcher: TfidfMatcher, title: str, article: str) -> list[Candidate]:
    article = article or f"{title}\n{sentence}".strip()
    is_title = sentence.strip() == title.strip()  # the server strips the title it makes sentence 0
    found = stock_finder(matcher).find(sentence, context=article, title=title if is_title else "")
    return [c for c in article_candidates(matcher, article) if c.stock in found]


def generate_source(sentence: str, title: str = "", matcher: TfidfMatcher | None = None, article: str = "") -> str:
    """One sentence with its article's title; with the matcher (as the shipped model was trained),
    first the hints of the candidates it names, judged on the whole ``article``
    (``article_text(title, body)``)."""
    text = f"{sentence} 제목: {title}" if title else sentence
    if matcher is None:
        return text
    return f"후보: {hints(_sentence_candidates(sentence, matcher, title, article))}\n{text}"


def generate_outputs(sentence: str, matcher: TfidfMatcher, title: str = "", article: str = "",
                     answer_tied: bool = False) -> list[str]:
    """Pairs of the stocks the sentence names with their member themes the article evidences, and
    ``없음``. Give the ``title`` and the whole ``article`` (``article_text(title, body)``) as the model
    was trained; without the article, the sentence and title stand for it.

    ``answer_tied`` (the server, and ``theme-eval`` as it): no ``없음`` when the sentence names a stock
    the article ties to a theme (``Candidate.tied``). The generator was taught to answer ``없음`` for
    most sentences, and says it of many that do tie their stock; ``/inference``'s relevance model
    judges those sentences instead."""
    candidates = _sentence_candidates(sentence, matcher, title, article)
    pairs = [format_pair(t, c.stock) for c in candidates for t in c.offered]
    return pairs if answer_tied and any(c.tied for c in candidates) else pairs + [NONE]


def left_out_outputs(sentence: str, matcher: TfidfMatcher, title: str, article: str, answered: set[str]) -> list[str]:
    """The pairs of the stocks the article ties to a theme (``Candidate.tied``) that the sentence
    names and its answer (the stocks in ``answered``) left out; no ``없음``. The server asks the
    generator for them in a second pass: given several, it often names only the first."""
    return [format_pair(t, c.stock) for c in _sentence_candidates(sentence, matcher, title, article)
            if c.tied and c.stock not in answered for t in c.offered]


_WORD = re.compile(r"[가-힣A-Za-z0-9]{2,}")
_COMMON_WORDS = frozenset({
    "지난", "올해", "오늘", "이번", "대한", "위해", "관련", "기자", "통해", "따르면", "것으로", "있다", "했다", "밝혔다",
    "지난해", "최근", "가장", "이날", "내년", "전년", "대비", "한국", "국내", "글로벌", "시장", "기업", "사업",
})


def content_words(text: str) -> list[str]:
    """The text's words without their particle or ending, in order, minus the commonest news words."""
    return [stem for word in _WORD.findall(text)
            if len(stem := _strip_ending(word)) >= 2 and stem not in _COMMON_WORDS]


def shared_words(title: str, sentence: str, limit: int = 8) -> list[str]:
    """Words of the title (without their particle) that the sentence also contains."""
    return [stem for stem in dict.fromkeys(content_words(title)) if stem in sentence][:limit]


def _strip_ending(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            return word[: -len(ending)]
    return word


_KEYWORD_THEMES: "weakref.WeakKeyDictionary[TfidfMatcher, dict[str, tuple[str, ...]]]" = weakref.WeakKeyDictionary()


def _keyword_themes(matcher: TfidfMatcher) -> dict[str, tuple[str, ...]]:
    """Theme keyword -> the themes it is a keyword of, built once per matcher."""
    index = _KEYWORD_THEMES.get(matcher)
    if index is None:
        found: dict[str, list[str]] = {}
        for theme, keywords in matcher.themes.keywords.items():
            for keyword in keywords:
                found.setdefault(keyword, []).append(theme)
        index = _KEYWORD_THEMES[matcher] = {k: tuple(v) for k, v in found.items()}
    return index


@lru_cache(maxsize=256)  # /inference relates every sentence of an article to the same title
def _subjects(text: str, matcher: TfidfMatcher, title: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The stocks ``text`` names (in order) and the themes its keywords evidence (outside listed names)."""
    stocks = tuple(stock_finder(matcher).find(text, context=f"{title}\n{text}", title=title))
    return stocks, frozenset(_theme_counts(matcher, text))


def shared_subjects(title: str, sentence: str, matcher: TfidfMatcher, limit: int = 4, article: str = "") -> list[str]:
    """Listed stocks both name (even by different aliases: SK하이닉스 / 하이닉스), then themes that tie them:
    a theme one evidences by keyword that the other evidences too or names a member of (a 반도체
    title and a sentence about SK하이닉스). Given the ``article`` the title heads (and ``sentence`` is
    one of its own), what the rest of the article keeps returning to counts as the title's too
    (``article_subjects``): a title need not name it (``조종사 대화, 경고음 다 담겼다`` over an article
    on the 제주항공 crash)."""
    title_stocks, title_themes = _subjects(title, matcher, title)
    sentence_stocks, sentence_themes = _subjects(sentence, matcher, title)

    def member_themes(stocks: tuple[str, ...]) -> set[str]:
        return {t for s in stocks for t in _member_themes(s, matcher)}

    in_sentence = sentence_themes | member_themes(sentence_stocks)
    stocks = [s for s in title_stocks if s in sentence_stocks]
    themes = (title_themes & in_sentence) | (sentence_themes & member_themes(title_stocks))
    if article:
        about_stocks, about_themes = article_subjects(matcher, article, sentence)
        stocks += [s for s in about_stocks if s in sentence_stocks and s not in stocks]
        themes |= about_themes & in_sentence
    return stocks[:limit] + sorted(themes)[:limit]


def article_subjects(matcher: TfidfMatcher, article: str, sentence: str = "") -> tuple[tuple[str, ...], frozenset[str]]:
    """What an article (``article_text(title, body)``) is about, apart from what ``sentence`` (one of its
    own) says: the stocks it offers (a member theme evidenced) that its title names or that it names
    ``MIN_SUBJECT_MENTIONS`` times, once at least outside the sentence; and the themes whose keywords
    it writes ``ARTICLE_THEME_MENTIONS`` times outside the sentence (outside listed names). A sentence
    that names a stock twice, or writes a keyword three times, does not make it the article's."""
    named = stock_finder(matcher).find(sentence, context=article) if sentence else {}
    stocks = tuple(c.stock for c in article_candidates(matcher, article)
                   if c.in_title or (c.mention.count >= MIN_SUBJECT_MENTIONS
                                     and c.mention.count > (named[c.stock].count if c.stock in named else 0)))
    outside = Counter(_theme_counts(matcher, article))
    outside.subtract(_theme_counts(matcher, sentence))
    return stocks, frozenset(t for t, n in outside.items() if n >= ARTICLE_THEME_MENTIONS)


@lru_cache(maxsize=256)
def _theme_counts(matcher: TfidfMatcher, text: str) -> Counter[str]:
    """How often ``text`` writes a keyword of each theme, outside listed names."""
    index = _keyword_themes(matcher)
    counts: Counter[str] = Counter()
    for term, n in matcher._terms.count(evidence_text(text, matcher)).items():
        for theme in index.get(term, ()):
            counts[theme] += n
    return counts


def relevance_source(title: str, sentence: str, matcher: TfidfMatcher | None = None,
                     related: RelatedWords | None = None, article: str = "") -> str:
    """Title and sentence, after what they share (``공통: ``), the plainest evidence that they are about
    the same thing: the title words the sentence contains and, with the matcher (given to models whose
    ``theme_model.json`` says ``"inputs": "hints"``), the stocks and themes they share
    (``shared_subjects``; with the ``article`` the title heads, as ``/inference`` gives it, also the
    stocks and themes that article is about). When they share none of these, ``related`` (the model's
    related words, when its ``theme_model.json`` names them) may name a title word and a sentence word
    that the news corpus puts close together (``shared.related``). The shipped model was trained on
    the words alone and reads the rest the same way (docs/models.md)."""
    common = shared_words(title, sentence)
    if matcher is not None:
        common += [s for s in shared_subjects(title, sentence, matcher, article=article) if s not in common]
    if not common and related is not None:
        common = related.link(title, sentence)
    return f"공통: {' '.join(common) or NONE} 제목: {title} 문장: {sentence}"
