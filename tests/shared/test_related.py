"""Related words (``shared.related``, built by ``theme_models.related_words``): texts close in a corpus get
a link for the relevance hint, texts far apart none; the shipped model directory carries its vectors."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from shared.candidates import relevance_source
from shared.related import RELATED_FILE, RelatedWords
from theme_models.related_words import build

ROOT = Path(__file__).resolve().parents[2]
TOPICS = [  # written: words that come together in news of one kind
    ["항공사", "여객기", "조종사", "활주로", "승객", "운항", "공항", "노선"],
    ["배터리", "양극재", "전기차", "리튬", "음극재", "셀", "충전", "완성차"],
    ["아파트", "전세", "매매가", "청약", "분양", "재건축", "주택", "집값"],
]


@pytest.fixture(scope="module")
def corpus_words() -> RelatedWords:
    rng = random.Random(0)
    texts = [" ".join(rng.sample(words, 5)) for _ in range(300) for words in TOPICS]
    return build(texts, dims=4, min_df=5)


def test_texts_of_one_topic_get_a_link_and_texts_of_two_topics_none(corpus_words):
    assert corpus_words.similarity("승객 불편 커져", "여객기가 노선을 벗어났다") > 0.9
    link = corpus_words.link("승객 불편 커져", "여객기가 노선을 벗어났다")
    assert link[0] == "승객" and link[1] in ("여객기", "노선")
    assert corpus_words.link("승객 불편 커져", "아파트 전세가 올랐다") == []
    assert corpus_words.link("승객 불편 커져", "모르는 말뿐이다") == []  # no known word in the sentence


def test_saved_related_words_load_back(corpus_words, tmp_path):
    corpus_words.save(tmp_path / RELATED_FILE)
    loaded = RelatedWords.load(tmp_path / RELATED_FILE, corpus_words.min_similarity)
    assert loaded.words == corpus_words.words
    assert np.allclose(loaded.vectors, corpus_words.vectors, atol=1e-3)  # stored as float16
    assert loaded.link("승객 불편 커져", "여객기가 노선을 벗어났다") == \
        corpus_words.link("승객 불편 커져", "여객기가 노선을 벗어났다")


def test_a_model_directory_names_its_related_words_or_has_none(corpus_words, tmp_path):
    assert RelatedWords.for_model(tmp_path, {}) is None  # a user's own T5
    meta = {"related_words": {"file": RELATED_FILE, "min_similarity": 0.5}}
    with pytest.raises(FileNotFoundError, match=RELATED_FILE):
        RelatedWords.for_model(tmp_path, meta)
    corpus_words.save(tmp_path / RELATED_FILE)
    assert RelatedWords.for_model(tmp_path, meta).min_similarity == 0.5


def test_the_hint_names_related_words_only_when_nothing_else_is_shared(corpus_words):
    assert relevance_source("승객 불편 커져", "여객기가 노선을 벗어났다", None, corpus_words).startswith("공통: 승객 ")
    assert relevance_source("승객 불편 커져", "승객이 착륙을 반겼다", None, corpus_words).startswith("공통: 승객 제목:")
    assert relevance_source("승객 불편 커져", "아파트 전세가 올랐다", None, corpus_words).startswith("공통: 없음 제목:")
    assert relevance_source("승객 불편 커져", "여객기가 노선을 벗어났다").startswith("공통: 없음 제목:")


def test_the_shipped_model_carries_its_related_words():
    model = ROOT / "models" / "theme-t5"
    meta = json.loads((model / "theme_model.json").read_text(encoding="utf-8"))
    related = RelatedWords.for_model(model, meta)
    assert related is not None and len(related.words) == meta["related_words"]["words"]
    assert related.link("반도체 수출 사상 최대", "메모리 가격이 오르면서 D램 업황이 개선됐다.") == ["반도체", "메모리"]
    assert related.link("반도체 수출 사상 최대", "올여름 해수욕장 방문객이 지난해보다 크게 늘었다.") == []
