"""Clustering as pure functions: reading the CSV, the result shapes, merging names, grouping."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from theme_generation.clustering import (
    Article,
    UploadError,
    cluster,
    merge_names,
    name_key,
    pairs_of,
    read_upload,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def list_themes() -> list[str]:
    with open(ROOT / "data" / "themes.csv", encoding="utf-8") as f:
        return sorted({row["theme"] for row in csv.DictReader(f)})


def make_csv(rows: list[tuple[str, object]], header=("objid", "result"), encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for objid, result in rows:
        writer.writerow([objid, result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)])
    return out.getvalue().encode(encoding)


def groups_of(mapping: dict[str, str]) -> list[set[str]]:
    groups: dict[str, set[str]] = {}
    for name, shown in mapping.items():
        groups.setdefault(shown, set()).add(name)
    return sorted(groups.values(), key=lambda g: sorted(g))


# -- merging names ------------------------------------------------------------------------------


def test_issue_example_merges_into_one_theme():
    counts = {"2차전지": 5, "2차 전지": 2, "이차전지": 1, "2차전지주": 1}
    assert set(merge_names(counts).values()) == {"2차전지"}  # shown as the most used spelling


@pytest.mark.parametrize("family", [
    ["2차전지", "2차 전지", "이차전지", "2차전지주", "이차 전지 관련주"],
    ["카티", "카티(CAR-T)", "CAR-T", "car-t"],
    ["유전자 치료제", "유전자치료제"],
    ["보안", "보안주"],
    ["방산", "방산주", "방산 테마"],
    ["신약 후보 물질", "신약후보물질"],
    ["유전자 치료", "유전자 치료제"],  # TF-IDF: one syllable more
    ["로봇", "로봇(산업용/협동로봇 등)"],  # a list of examples is not a distinction
    ["HBM(고대역폭메모리)", "HBM", "고대역폭메모리", "HBM(고대역폭메모리) 관련주"],
])
def test_near_duplicates_merge(family, list_themes):
    assert len(set(merge_names(dict.fromkeys(family, 1), reference=list_themes).values())) == 1


@pytest.mark.parametrize("pair", [
    ("2차전지", "2차전지(전고체)"),  # a qualifier keeps a sub-theme apart
    ("2차전지(장비)", "2차전지(전고체)"),
    ("밸류업(24년 기업가치 제고계획 발표)", "밸류업(25년 기업가치 제고계획 발표)"),  # numbers differ
    ("5G", "6G"),
    ("반도체", "반도체 장비"),
    ("2차전지", "2차전지 소재"),
    ("자전거", "전기자전거"),
    ("LED", "LED장비"),
    ("배터리", "바이오"),
    ("지주사", "지주"),
])
def test_distinct_themes_stay_apart(pair, list_themes):
    assert len(set(merge_names(dict.fromkeys(pair, 1), reference=list_themes).values())) == 2


def test_the_shipped_theme_list_keeps_its_themes_apart(list_themes):
    """268 themes in, 267 out: only the list's own near-duplicate pair (both 'COVID-19 treatment/vaccine
    development, etc.', one with 진단 added) merges."""
    merged = [g for g in groups_of(merge_names(dict.fromkeys(list_themes, 1), reference=list_themes)) if len(g) > 1]
    assert merged == [{"코로나19(진단/치료제/백신 개발 등)", "코로나19(치료제/백신 개발 등)"}]


def test_spelling_variants_of_every_listed_theme_merge_back(list_themes):
    counts = {}
    for theme in list_themes:
        for variant in (theme, theme.replace(" ", ""), theme + "주", theme + " 관련주"):
            counts[variant] = counts.get(variant, 0) + (3 if variant == theme else 1)
    shown = merge_names(counts, reference=list_themes)
    for theme in list_themes:
        assert shown[theme + " 관련주"] == shown[theme.replace(" ", "")] == shown[theme]


def test_shown_name_is_the_most_used_spelling():
    assert set(merge_names({"이차전지": 1, "2차전지": 7, "2차 전지": 3}).values()) == {"2차전지"}
    assert set(merge_names({"이차전지": 9, "2차전지": 7}).values()) == {"이차전지"}


def test_name_keys():
    assert name_key("2차 전지 관련주").key == "2차전지"
    assert name_key("카티(CAR-T)").alias == "cart"
    assert name_key("2차전지(전고체)").key == "2차전지(전고체)"
    assert name_key("로봇(산업용/협동로봇 등)").key == "로봇"
    assert name_key("구충제(펜벤다졸").key == "구충제(펜벤다졸)"  # unclosed parenthesis
    assert name_key("지주").key == "지주"  # a suffix is only dropped from two or more characters


# -- reading result cells -----------------------------------------------------------------------

INFERENCE = [{"theme": "배터리", "stock": "LG에너지솔루션", "score": -0.1, "gen_score": -0.1, "rel_score": -0.0,
              "sentence": "문장"}]
THEME_INFERENCE = {"result": [{"theme": "배터리", "stock": "LG에너지솔루션", "score": -0.4, "from": "tf"}],
                   "t5_result": [{"theme": "배터리", "stock": "HMM", "score": -0.3}], "tf_result": []}
GENERATION = [{"idx": 0, "result": [{"theme": "없음", "stock": "없음", "score": -10}], "sentence": "제목"},
              {"idx": 1, "result": [{"theme": "배터리", "stock": "LG에너지솔루션", "score": -0.1}], "sentence": "문장"}]


@pytest.mark.parametrize("value", [INFERENCE, THEME_INFERENCE, GENERATION])
def test_result_shapes(value):
    assert pairs_of(value) == [("배터리", "LG에너지솔루션")]


def test_none_entries_and_empty_results_give_no_pairs():
    assert pairs_of([{"theme": "없음", "stock": "없음", "score": -10}]) == []
    assert pairs_of([]) == []


@pytest.mark.parametrize("value, reason", [
    (42, "not a list"),
    ({"t5_result": []}, "without a 'result' list"),
    ([{"theme": "배터리"}], "no 'theme' and 'stock'"),
    ([{"theme": "배터리", "stock": 3}], "non-empty strings"),
    (["배터리"], "no 'theme' and 'stock'"),
    ([{"theme": "\u0000", "stock": "LG"}], r"contains a control character \(U\+0000\)"),
    ([{"theme": "배터리", "stock": "LG\x1b[31m"}], r"control character \(U\+001B\)"),
    ([{"theme": "2차\n전지", "stock": "LG"}], r"control character \(U\+000A\)"),
    ([{"theme": "배\x85터리", "stock": "LG"}], r"control character \(U\+0085\)"),
])
def test_bad_result_shapes(value, reason):
    with pytest.raises(ValueError, match=reason):
        pairs_of(value)


# -- reading the CSV ----------------------------------------------------------------------------


def test_reads_utf8_bom_cp949_and_python_repr():
    rows = [("id1", INFERENCE), ("id2", str(INFERENCE))]  # the second as Python's repr, single quotes
    for data in (make_csv(rows), b"\xef\xbb\xbf" + make_csv(rows), make_csv(rows, encoding="cp949")):
        upload = read_upload(data)
        assert [a.objid for a in upload.articles] == ["id1", "id2"]
        assert upload.articles[1].pairs == [("배터리", "LG에너지솔루션")]
        assert upload.skipped == []


def test_reads_tab_separated_and_other_column_order():
    data = "result\tobjid\n" + json.dumps(INFERENCE, ensure_ascii=False) + "\tid1\n"
    assert read_upload(data.encode()).articles[0].objid == "id1"


def test_unreadable_rows_are_counted_with_their_line():
    data = make_csv([("id1", INFERENCE), ("id2", "not json"), ("", INFERENCE), ("id4", ""),
                     ("id5", [{"theme": "배터리"}]), ("id6", [])])
    upload = read_upload(data)
    assert [a.objid for a in upload.articles] == ["id1", "id6"]
    assert [(s.line, s.reason.split(" ")[0]) for s in upload.skipped] == [
        (3, "result"), (4, "objid"), (5, "result"), (6, "an")]
    assert upload.rows == 6


def test_hostile_cells_are_skipped_with_a_reason():
    formula = [{"theme": "=cmd|' /C calc'!A0", "stock": "삼성전자"}]
    data = make_csv([("id1", INFERENCE), ("id2", formula), ("=HYPERLINK(1)", INFERENCE)])
    data += b'id4,"' + b"[" * 100_000 + b'"\n'
    upload = read_upload(data)
    assert [a.objid for a in upload.articles] == ["id1"]
    assert [(s.line, s.reason) for s in upload.skipped] == [
        (3, "an entry's theme or stock starts with '=', '+' or '@' (a spreadsheet formula?)"),
        (4, "objid starts with '=' (a spreadsheet formula?)"),
        (5, "result is nested too deeply to be a list of {theme, stock} objects")]


def test_control_characters_in_names_are_skipped_like_empty_names():
    data = make_csv([("id1", INFERENCE), ("id2", [{"theme": "\u0000", "stock": "LG"}]),
                     ("id3", [{"theme": " ", "stock": "LG"}]), ("id4", [{"theme": "배터리", "stock": "\x07LG"}])])
    upload = read_upload(data)
    assert [a.objid for a in upload.articles] == ["id1"]
    assert [(s.line, s.reason) for s in upload.skipped] == [
        (3, "an entry's theme or stock contains a control character (U+0000)"),
        (4, "an entry's theme and stock must be non-empty strings"),
        (5, "an entry's theme or stock contains a control character (U+0007)")]
    assert [g["theme"] for g in cluster(upload.articles)] == ["배터리"]


def test_line_numbers_count_multiline_cells():
    data = 'objid,result\nid1,"[\n]"\nid2,broken\n'.encode()
    assert read_upload(data).skipped[0].line == 4


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"objid,text\nid1,x\n", "no 'result' column"),
    (b"id_x,result\nid1,[]\n", "no 'objid' column"),
    (b"objid,result\n", "no rows"),
    (b"objid,result\nid1,broken\nid2,{}\n", "No row could be read (2 rows): line 2: result is not JSON"),
    (b"PK\x03\x04\x00\x00binary", "binary"),
    ("objid\n".encode("utf-16"), "no 'result' column"),  # UTF-16 is read (with its BOM)
    (b"objid,result,objid\nid1,[],id2\n", "names the column 'objid' 2 times"),
    (b"objid,result\nid1,\xff\xff\xff\n", "neither UTF-8 nor CP949"),
])
def test_unusable_files(data, message):
    with pytest.raises(UploadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_upload(data)


# -- grouping -----------------------------------------------------------------------------------


def test_cluster_counts_orders_and_merges():
    articles = [
        Article(2, "a1", [("2차전지", "LG에너지솔루션"), ("배터리", "HMM")]),
        Article(3, "a2", [("이차전지", "LG에너지솔루션"), ("2차전지", "삼성SDI")]),
        Article(4, "a3", [("2차 전지", "LG에너지솔루션"), ("2차전지", "LG에너지솔루션")]),  # once per article
        Article(5, "a1", [("2차전지주", "LG에너지솔루션")]),  # the same article again
        Article(6, "a4", []),
    ]
    assert cluster(articles) == [
        {"theme": "2차전지", "count": 4, "companies": [
            {"stock": "LG에너지솔루션", "count": 3, "objids": ["a1", "a2", "a3"]},
            {"stock": "삼성SDI", "count": 1, "objids": ["a2"]}]},
        {"theme": "배터리", "count": 1, "companies": [{"stock": "HMM", "count": 1, "objids": ["a1"]}]},
    ]


def test_cluster_of_nothing_is_empty():
    assert cluster([Article(2, "a1", [])]) == []


def test_gc_paused_restores_the_collector_even_when_nested():
    import gc

    from theme_generation.clustering import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer caller is still at work
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()
