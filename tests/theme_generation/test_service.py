"""GenerationService's own logic with scripted models: batching, 없음, relevance filtering, scores, caps.

The HTTP tests run the real (tiny) model, whose answers are arbitrary; here the models are stubs that
answer by rule, so the combination logic can be checked exactly.
"""
from __future__ import annotations

import logging

import pytest

from shared.candidates import RELATED, UNRELATED
from shared.t5 import Generation
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeEntry, ThemeList
from theme_generation.service import GenerationService, relate


class ScriptedT5:
    """``generate`` answers the first allowed output (generation) or by a rule (relevance)."""

    def __init__(self, unrelated_word: str = "", related_score: float = -2.0) -> None:
        self.calls: list[tuple[str, int]] = []
        self.unrelated_word = unrelated_word
        self.related_score = related_score  # of ``related``, when it is the only answer allowed
        self.meta: dict = {}  # no theme_model.json: the plain inputs

    def trie(self, outputs: list[str], chain: bool) -> tuple[str, ...]:
        return tuple(outputs)

    def generate(self, task, sources, allowed, num_beams=4):
        self.calls.append((task, len(sources)))
        if task == "relevance" and allowed[0] == (RELATED,):
            return [Generation(RELATED, self.related_score) for _ in sources]
        if task == "relevance":
            return [Generation(UNRELATED if self.unrelated_word and self.unrelated_word in s else RELATED, -0.0004)
                    for s in sources]
        return [Generation(outputs[0], -0.1236) for outputs in allowed]

    def health(self) -> dict:
        return {"name": "scripted"}


@pytest.fixture(scope="module")
def matcher() -> TfidfMatcher:
    """Two stocks; a stock's theme is offered when the article has the theme's keyword."""
    return TfidfMatcher(ThemeList([ThemeEntry("배터리", "LG에너지솔루션", keywords=("배터리",)),
                                   ThemeEntry("해운", "HMM", keywords=("해운",))]))


def make_service(matcher, splitter, model=None, relevance=None, **kwargs) -> GenerationService:
    model = model or ScriptedT5()
    return GenerationService(model, relevance or model, matcher, splitter, **kwargs)


def test_all_sentences_go_to_the_model_together_in_batches(matcher, splitter):
    model = ScriptedT5()
    service = make_service(matcher, splitter, model, batch_size=16, max_sentences=64)
    body = " ".join(f"LG에너지솔루션이 {i}번째 공장을 지었다." for i in range(40))
    body += " 오늘은 날씨가 맑았다."  # names no listed stock: answered without the model
    result = service.generation("배터리 업황", body)
    assert len(result) == 42
    assert model.calls == [("generate", 16), ("generate", 16), ("generate", 8)]
    assert result[-1]["result"] == [{"theme": "없음", "stock": "없음", "score": -10}]
    assert result[0]["result"] == [{"theme": "없음", "stock": "없음", "score": -10}]  # the title names no stock
    assert result[1]["result"] == [{"theme": "배터리", "stock": "LG에너지솔루션", "score": -0.124}]
    assert [r["idx"] for r in result] == list(range(42))


def test_inference_keeps_related_pairs_in_sentence_order(matcher, splitter):
    relevance = ScriptedT5(unrelated_word="HMM")
    service = make_service(matcher, splitter, ScriptedT5(), relevance)
    title = "LG에너지솔루션 배터리 증설"
    body = "HMM이 해운 운임을 올렸다. 날씨가 맑았다. LG에너지솔루션이 공장을 지었다."
    result = service.inference(title, body)
    assert [(r["stock"], r["sentence"]) for r in result] == [
        ("LG에너지솔루션", title), ("LG에너지솔루션", "LG에너지솔루션이 공장을 지었다.")]
    for r in result:
        assert list(r) == ["theme", "stock", "score", "gen_score", "rel_score", "sentence"]
        assert (r["gen_score"], r["rel_score"], r["score"]) == (-0.124, -0.0, -0.124)
    # the sentence naming no stock is not asked about; the one answered unrelated is asked again for
    # its related score (-2.0: below MIN_REL_SCORE)
    assert relevance.calls == [("relevance", 3), ("relevance", 1)]


@pytest.mark.parametrize("related_score, min_rel_score, kept", [
    (-0.5, -0.6, True),    # answered unrelated, but related scores at least MIN_REL_SCORE
    (-0.6, -0.6, True),    # ... exactly
    (-0.7, -0.6, False),
    (-0.5, 0.0, False),    # 0: the model's answer alone
])
def test_inference_keeps_a_sentence_whose_related_score_reaches_the_minimum(matcher, splitter, related_score,
                                                                            min_rel_score, kept):
    relevance = ScriptedT5(unrelated_word="HMM", related_score=related_score)
    service = make_service(matcher, splitter, ScriptedT5(), relevance, min_rel_score=min_rel_score)
    result = service.inference("해운 운임 급등", "HMM이 해운 운임을 올렸다. LG에너지솔루션이 배터리 공장을 지었다.")
    hmm = [(r["stock"], r["rel_score"], r["score"]) for r in result if r["stock"] == "HMM"]
    assert hmm == ([("HMM", related_score, round(-0.1236 + related_score, 3))] if kept else [])
    assert [r["stock"] for r in result if r["stock"] != "HMM"] == ["LG에너지솔루션"]
    # only the sentence answered unrelated is asked again, and only when the minimum is below 0
    assert relevance.calls == [("relevance", 2)] + ([("relevance", 1)] if min_rel_score < 0 else [])
    assert service.relevance("해운", "HMM이 올랐다.")["result_text"] == UNRELATED  # /relevance: the model's answer


def test_relevance_answers_the_contract_shape(matcher, splitter):
    service = make_service(matcher, splitter, ScriptedT5(), ScriptedT5(unrelated_word="날씨"))
    assert service.relevance("배터리", "배터리 업황이 좋다.") == {"result": 1, "result_text": "related", "score": -0.0}
    assert service.relevance("배터리", "날씨가 맑다.") == {"result": 0, "result_text": "unrelated", "score": -0.0}


def test_long_articles_are_capped_with_a_warning(matcher, splitter, caplog):
    service = make_service(matcher, splitter, max_sentences=5)
    body = " ".join(f"{i}번째 문장이다." for i in range(100))
    with caplog.at_level(logging.WARNING):
        sentences = service.sentences("제목", body)
    assert sentences == ["제목", "0번째 문장이다.", "1번째 문장이다.", "2번째 문장이다.", "3번째 문장이다."]
    assert "only the first 5 are analysed (MAX_SENTENCES)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert len(service.sentences("제목", "하나다. 둘이다. 셋이다. 넷이다.")) == 5  # exactly at the cap
    assert "MAX_SENTENCES" not in caplog.text


def test_one_sentence_cap_is_the_title_alone(matcher, splitter):
    assert make_service(matcher, splitter, max_sentences=1).sentences("제목", "본문이다.") == ["제목"]


def test_tries_are_built_once_per_candidate_set(matcher, splitter):
    service = make_service(matcher, splitter)
    service.generation("배터리와 해운", "LG에너지솔루션이 올랐다. LG에너지솔루션이 내렸다. HMM이 올랐다.")
    info = service._trie.cache_info()
    assert (info.misses, info.hits) == (2, 1)


def test_relate_asks_again_only_for_the_inputs_answered_unrelated_and_only_below_0():
    model = ScriptedT5(unrelated_word="HMM", related_score=-0.3)
    assert relate(model, [], 16, -0.6) == []
    assert model.calls == []
    assert relate(model, ["LG 배터리"], 16, -0.6) == [(True, -0.0004)]  # nothing answered unrelated
    assert relate(model, ["HMM 해운", "LG 배터리"], 16, None) == [(False, -0.0004), (True, -0.0004)]
    assert model.calls == [("relevance", 1), ("relevance", 2)]
    assert relate(model, ["HMM 해운", "LG 배터리"], 16, -0.6) == [(True, -0.3), (True, -0.0004)]
    assert model.calls[2:] == [("relevance", 2), ("relevance", 1)]
