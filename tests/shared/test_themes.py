"""Theme list parsing and the TF-IDF score on small lists written here."""
import math

import pytest

from shared.errors import BadUpload
from shared.tfidf import TfidfMatcher
from shared.themes import TermCounter, ThemeList


def test_korean_headers_keywords_aliases_and_padded_codes():
    themes = ThemeList.from_csv_bytes("테마,종목명,종목코드,키워드,별칭\n반도체,SK하이닉스,660,HBM|D램,하이닉스\n".encode("cp949"))
    [entry] = themes.entries
    assert (entry.theme, entry.stock, entry.code, entry.keywords, entry.aliases) == (
        "반도체", "SK하이닉스", "000660", ("HBM", "D램"), ("하이닉스",))


@pytest.mark.parametrize("code, kept", [("660", "000660"), ("00104K", "00104K"), ("0008Z0", "0008Z0")])
def test_krx_codes_with_letters_are_kept_and_digits_refilled(code, kept):
    [entry] = ThemeList.from_csv_bytes(f"theme,stock,code\n반도체,삼성전자,{code}\n".encode()).entries
    assert entry.code == kept


@pytest.mark.parametrize("code", ["ABC", "A", "Q5", "12A", "ZZZZ", "ABCDEF", "abc123", "1234567", "00104k",
                                  "５９３０"])  # fullwidth digits
def test_a_code_that_is_no_krx_code_is_refused(code):
    """Only an all-digit code lost its leading zeros in a spreadsheet; ``ABC`` is not ``000ABC``."""
    with pytest.raises(BadUpload, match=f"column 'code' is '{code}', not a 6-character KRX code"):
        ThemeList.from_csv_bytes(f"theme,stock,code\n반도체,삼성전자,{code}\n".encode())


def test_save_and_load_round_trip(tmp_path):
    themes = ThemeList.from_csv_bytes("theme,stock,keywords\n2차전지,LG에너지솔루션,배터리|이차전지\n".encode())
    themes.save(tmp_path / "t.csv")
    assert ThemeList.load(tmp_path / "t.csv").entries == themes.entries
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temp file left behind


def test_business_words_are_read_per_theme_from_any_of_its_rows(tmp_path):
    themes = ThemeList.from_csv_bytes("테마,종목,business\n음식료,삼양식품,식품|라면\n음식료,농심,\n반도체,삼성전자,\n".encode())
    assert themes.business["음식료"] == {"식품", "라면"} and not themes.business["반도체"]
    themes.save(tmp_path / "t.csv")
    assert ThemeList.load(tmp_path / "t.csv").entries == themes.entries
    # a column of free text named 사업 is not read as business words
    described = ThemeList.from_csv_bytes("테마,종목,사업\n음식료,삼양식품,라면 제조 및 판매\n".encode())
    assert not described.business["음식료"]


def test_an_undecodable_file_is_refused():
    with pytest.raises(BadUpload, match="neither UTF-8 nor CP949"):
        ThemeList.from_csv_bytes(b"theme,stock\n\xff\xfe\xfd\xfc,\x80\x80\n")


@pytest.mark.parametrize("data", [
    "theme\tstock\tcode\n유전자\t툴젠\t199800\n".encode(),  # tab-separated, as spreadsheets export it
    "\n\ntheme,stock,code\n유전자,툴젠,199800\n".encode(),  # blank lines before the header
    "theme,stock,code\n유전자,툴젠,199800\n".encode("utf-16"),  # Excel's "Unicode text" (UTF-16 with BOM)
])
def test_tab_separated_utf16_and_blank_leading_lines_are_read(data):
    assert [(e.theme, e.stock, e.code) for e in ThemeList.from_csv_bytes(data).entries] == [("유전자", "툴젠", "199800")]


@pytest.mark.parametrize("data, message", [
    ('theme,stock\n"유전자,툴젠\n반도체,삼성전자\n', "Row 2: column 'theme' runs over several lines"),
    ('theme,stock\n유전자,툴젠\n반도체,"삼성\n전자"\n', "Row 3: column 'stock' runs over several lines"),
])
def test_a_quote_left_open_is_named_on_the_line_it_starts(data, message):
    with pytest.raises(BadUpload) as refused:
        ThemeList.from_csv_bytes(data.encode())
    assert refused.value.body["error"].startswith(message)


def test_aliases_count_for_the_stock_and_longest_names_win():
    themes = ThemeList.from_csv_bytes(
        "theme,stock,aliases\n반도체,SK하이닉스,하이닉스\n지주사,SK,\n".encode())
    matcher = TfidfMatcher(themes)
    assert matcher.mentions("SK하이닉스와 하이닉스, 그리고 SK") == {"SK하이닉스": 2, "SK": 1}


def test_score_is_the_log_cosine_of_article_and_theme_keyword_vectors():
    themes = ThemeList.from_csv_bytes("theme,stock,keywords\n반도체,삼성전자,HBM\n스마트폰,삼성전자,갤럭시\n".encode())
    [match] = TfidfMatcher(themes).match("삼성전자 반도체 HBM 갤럭시")
    # all idf equal: article (1,1,1)/√3; theme 반도체 (1,1,0)/√2 → cos = 2/√6
    assert match.theme == "반도체" and match.theme_count == 2 and match.stock_count == 1
    assert match.score == pytest.approx(math.log(2 / math.sqrt(6)))


def test_latin_keywords_are_not_counted_inside_other_latin_words():
    """``VR`` (가상현실) inside ``CVR`` (a cockpit voice recorder) is no evidence; ``HBM3E`` is HBM."""
    counter = TermCounter({"VR", "LED", "HBM", "AI", "5G", "반도체"}, whole_latin=True)
    text = "CVR 기록과 OLED 패널, HBM3E와 AI가 이끈 LG반도체, 25G 광모듈"
    assert counter.count(text) == {"HBM": 1, "AI": 1, "반도체": 1}
    assert counter.count("5G 통신과 5G망") == {"5G": 2}
    years = TermCounter({"24년 기업가치 제고계획 발표"}, whole_latin=True)  # a Hangul term: digits may go on
    assert years.count("2024년 기업가치 제고계획 발표 이후") == {"24년 기업가치 제고계획 발표": 1}
    assert TermCounter({"VR", "LED", "5G"}).count(text) == {"VR": 1, "LED": 1, "5G": 1}  # plain substrings otherwise
