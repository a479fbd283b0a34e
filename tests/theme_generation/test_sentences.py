"""The Kiwi splitter: the guide's article in 7 body sentences, glued full stops, windows, caps."""
from __future__ import annotations

import re

import pytest

from tests.theme_generation.guide_examples import generation_sentences


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_guide_body_is_seven_sentences(splitter, guide_article):
    title, body = guide_article
    sentences = splitter.split(body)
    assert len(sentences) == 7  # + the title: the guide's idx 0..7
    expected = generation_sentences()
    for idx, sentence in expected.items():
        if idx:
            assert sentences[idx - 1] == sentence
    assert expected[0] == title
    assert _squash("".join(sentences)) == _squash(body)  # nothing lost, nothing added


def test_full_stop_without_space_still_ends_a_sentence(splitter, guide_article):
    """``물질이다.순시홀딩스그룹은`` (the contract's example) and a Latin word after ``다.`` both split."""
    _, body = guide_article
    assert "물질이다.순시홀딩스그룹은" in body
    sentences = splitter.split(body)
    assert any(s.endswith("물질이다.") for s in sentences)
    assert any(s.startswith("순시홀딩스그룹은") for s in sentences)
    assert all(s.endswith(".") and not re.search(r"다\.\S", s) for s in sentences)


@pytest.mark.parametrize("text, expected", [
    ("삼성전자가 올랐다.LG에너지솔루션은 내렸다.", ["삼성전자가 올랐다.", "LG에너지솔루션은 내렸다."]),
    ("주가는 1.5% 올랐다. 끝났다", ["주가는 1.5% 올랐다.", "끝났다"]),  # a decimal point is no full stop
    ("그는 \"좋다.\"라고 말했다.", ["그는 \"좋다.\"라고 말했다."]),  # a quotation stays inside its sentence
    ("😀 이모지 뒤 문장이다.다음 문장이다.", ["😀 이모지 뒤 문장이다.", "다음 문장이다."]),
    ("", []),
    ("   \n  ", []),
])
def test_split_cases(splitter, text, expected):
    assert splitter.split(text) == expected


@pytest.mark.parametrize("window", [150, 400, 1000])
def test_windows_do_not_change_the_split(splitter, guide_article, window):
    _, body = guide_article
    text = " ".join([body] * 6)
    whole = splitter.split(text)
    original = splitter.window
    try:
        splitter.window = window
        assert splitter.split(text) == whole
    finally:
        splitter.window = original


def test_limit_reads_only_what_it_needs(splitter, guide_article):
    _, body = guide_article
    text = " ".join([body] * 200)  # ~80,000 characters, 1,400 sentences
    sentences = splitter.split(text, limit=10)
    assert sentences == splitter.split(" ".join([body] * 2))[:10]


def test_whitespace_run_longer_than_a_window_is_skipped(splitter):
    assert splitter.split(" " * 9000 + "마지막 문장이다. 끝.") == ["마지막 문장이다.", "끝."]


def test_a_sentence_longer_than_a_window_is_cut_not_lost(splitter):
    text = "가" * 9000
    assert "".join(splitter.split(text)) == text
