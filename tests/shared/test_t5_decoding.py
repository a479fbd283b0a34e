"""The transformers backend's decoding shortcuts change nothing but time, and a cut answer is never half a name.

Inputs are the shipped model's real tasks on the guide's 툴젠 article and written sentences (no article
text is committed).
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from transformers import DynamicCache, EncoderDecoderCache

from shared import t5 as t5_module
from shared.candidates import article_text, classify_outputs, classify_source, generate_outputs, generate_source
from shared.t5 import T5Generator
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from tests.guide import article

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = [
    ("SK하이닉스, HBM 공급 확대로 사상 최대 실적",
     "SK하이닉스가 고대역폭메모리(HBM) 판매 호조로 최대 영업이익을 냈다. 삼성전자도 HBM 양산을 늘린다. "
     "김철수 대신증권 연구원은 메모리 업황이 좋을 것이라고 내다봤다."),
    ("LG에너지솔루션·삼성SDI, 2차전지 반등 기대",
     "LG에너지솔루션과 삼성SDI가 전기차 배터리 수주를 늘렸다. 에코프로비엠은 양극재 증설에 나선다."),
]


@pytest.fixture(scope="module")
def gen(t5_model_dir):
    return T5Generator.load(t5_model_dir, "cpu")


@pytest.fixture(scope="module")
def matcher():
    return TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))


def forced_score(gen, task: str, source: str, text: str) -> float:
    """The model's length-normalised log-probability of ``text`` (end token included), from transformers'
    own loss: an independent check of the scores ``generate`` reports."""
    spec = gen.task(task)
    source_ids = gen.encode(spec["prefix"] + source, max_length=spec["max_source_length"], truncation=True,
                            return_tensors="pt").input_ids
    labels = torch.tensor([[*gen.encode(text, add_special_tokens=False).input_ids, gen.tokenizer.eos_token_id]])
    with torch.inference_mode():
        return -gen.model(input_ids=source_ids, labels=labels).loss.item()


@pytest.fixture(scope="module")
def classify_inputs(gen, matcher):
    title, body = article()
    docs = [(title, body), *WRITTEN]
    sources = [classify_source(t, b, matcher) for t, b in docs]
    tries = [gen.trie(classify_outputs(article_text(t, b), matcher), chain=True) for t, b in docs]
    return sources, tries


def test_decoding_shortcuts_give_exactly_what_transformers_own_decoding_gives(gen, matcher, classify_inputs,
                                                                            monkeypatch):
    """The cross-attention cache not reordered (``_BeamCache``), computed and held once per input
    (``_beam_cache`` + ``_beam_attention``), each input encoded alone without padding, and the
    output layer computing only the tries' tokens (``_Subset``), against transformers' own cache, one
    padded encoder call and the whole vocabulary: the same answers, the same scores."""
    sentences = [(s, t, article_text(t, b)) for t, b in WRITTEN for s in (t, *b.split(". "))]
    gen_sources = [generate_source(s, t, matcher, text) for s, t, text in sentences]
    gen_tries = [gen.trie(generate_outputs(s, matcher, t, text), chain=True) for s, t, text in sentences]
    reordered, caches, columns = [], [], []
    own_reorder, own_cache = t5_module._BeamCache.reorder_cache, t5_module._beam_cache
    own_head = t5_module._SubsetHead.forward

    def counted_reorder(cache, beam_idx):
        reordered.append(len(beam_idx))
        own_reorder(cache, beam_idx)

    def kept_cache(model, states):
        caches.append((len(states), own_cache(model, states)))
        return caches[-1][1]

    def counted_head(head, hidden):
        logits = own_head(head, hidden)
        columns.append(logits.shape[-1])
        return logits

    monkeypatch.setattr(t5_module._BeamCache, "reorder_cache", counted_reorder)
    monkeypatch.setattr(t5_module, "_beam_cache", kept_cache)
    monkeypatch.setattr(t5_module._SubsetHead, "forward", counted_head)
    fast = gen.generate("classify", *classify_inputs), gen.generate("generate", gen_sources, gen_tries)
    assert reordered  # beam search really went through the cache
    assert caches and all(cache.cross_attention_cache.layers[0].keys.shape[0] == inputs for inputs, cache in caches)
    assert min(columns) < len(gen.tokenizer) // 10  # and over a small vocabulary
    monkeypatch.setattr(T5Generator, "_vocabulary", lambda self, allowed: None)
    monkeypatch.setattr(t5_module, "_beam_cache", lambda model, states: EncoderDecoderCache(
        DynamicCache(config=model.config), DynamicCache(config=model.config)))
    monkeypatch.setattr(T5Generator, "_encoder_states",
                        lambda self, batch: self.model.get_encoder()(**batch).last_hidden_state)
    slow = gen.generate("classify", *classify_inputs), gen.generate("generate", gen_sources, gen_tries)
    for got, expected in zip(fast, slow):
        assert [g.text for g in got] == [g.text for g in expected]
        assert [g.score for g in got] == pytest.approx([g.score for g in expected], abs=1e-5)
    assert any(g.text for g in fast[0])  # the inputs really decode something
    for task, sources, answers in (("classify", classify_inputs[0], fast[0]), ("generate", gen_sources, fast[1])):
        for source, answer in zip(sources, answers):
            assert answer.score == pytest.approx(forced_score(gen, task, source, answer.text), abs=1e-4)


def test_two_threads_decoding_at_once_get_what_each_gets_alone(gen, classify_inputs):
    """Batch workers share one model; the output layer's token subset is per thread."""
    sources, tries = classify_inputs
    jobs = [([sources[0]], [tries[0]]), (sources[1:], tries[1:])]
    alone = [gen.generate("classify", *job) for job in jobs]
    results: dict[int, list] = {}

    def run(index: int) -> None:
        results[index] = [gen.generate("classify", *jobs[index]) for _ in range(4)]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, expected in enumerate(alone):
        for got in results[index]:
            assert [g.text for g in got] == [g.text for g in expected]
            assert [g.score for g in got] == pytest.approx([g.score for g in expected], abs=1e-5)


def test_inputs_encoded_alone_match_a_padded_batch(gen, classify_inputs):
    sources, _ = classify_inputs
    batch = gen.encode(sources, max_length=256, truncation=True, padding=True, return_tensors="pt")
    lengths = batch.attention_mask.sum(dim=1).tolist()
    assert len(set(lengths)) == len(lengths)  # really padded
    alone = gen._encoder_states(batch)
    padded = gen.model.get_encoder()(**batch).last_hidden_state
    for row, length in enumerate(lengths):
        assert torch.allclose(alone[row, :length], padded[row, :length], atol=1e-5)


@pytest.mark.parametrize("steps", [1, 3])
def test_beams_sharing_their_inputs_keys_attend_as_with_a_copy_per_beam(gen, steps):
    """``_beam_attention`` with one copy of the keys per input equals sdpa with a copy per beam, for a
    decoding step (beams grouped on the query axis) and for several positions at once (keys expanded),
    with the padded keys of the shorter input masked out."""
    torch.manual_seed(0)
    module = gen.model.decoder.block[0].layer[1].EncDecAttention
    inputs, beams, heads, dim, length = 2, 4, module.n_heads, module.key_value_proj_dim, 7
    query = torch.randn(inputs * beams, heads, steps, dim)
    key, value = torch.randn(inputs, heads, length, dim), torch.randn(inputs, heads, length, dim)
    mask = torch.ones(inputs * beams, 1, steps, length, dtype=torch.bool)
    mask[beams:, ..., 5:] = False  # the second input has 5 real positions
    got, _ = t5_module._beam_attention(module, query, key, value, mask, dropout=0.0, scaling=1.0)
    expected, _ = t5_module.sdpa_attention_forward(
        module, query, key.repeat_interleave(beams, dim=0), value.repeat_interleave(beams, dim=0), mask,
        dropout=0.0, scaling=1.0, is_causal=False)
    assert got.shape == expected.shape == (inputs * beams, steps, heads, dim)
    assert torch.allclose(got, expected, atol=1e-6)


def test_answer_limit_is_the_smallest_of_task_decoding_cap_and_longest_allowed(gen, classify_inputs):
    _, tries = classify_inputs
    meta = {**gen.meta, "decoding": {**gen.meta.get("decoding", {}), "max_new_tokens": {"classify": 7}}}
    capped = T5Generator(gen.model, gen.tokenizer, gen.device, meta, gen.path)
    assert capped.answer_limit("classify", None) == 7
    assert capped.answer_limit("classify", [tries[0], None]) == 7  # an unconstrained input: no trie bound
    short = gen.trie(["없음"], chain=False)
    assert capped.answer_limit("classify", [short]) == short.longest() < 7
    assert gen.answer_limit("relevance", None) == gen.task("relevance")["max_target_length"] - 1  # end token counted


def test_an_answer_cut_by_the_limit_is_cut_back_to_whole_pairs(gen, classify_inputs):
    sources, tries = classify_inputs
    long_trie = tries[2]  # three stocks, several themes each: chains far longer than 9 tokens
    assert long_trie.longest() > 9
    meta = {**gen.meta, "decoding": {**gen.meta.get("decoding", {}), "max_new_tokens": {"classify": 9}}}
    capped = T5Generator(gen.model, gen.tokenizer, gen.device, meta, gen.path)
    [whole] = gen.generate("classify", [sources[2]], [long_trie])
    [answer] = capped.generate("classify", [sources[2]], [long_trie])
    ids = gen.encode(answer.text, add_special_tokens=False).input_ids
    assert len(gen.encode(whole.text, add_special_tokens=False).input_ids) > 9  # the limit really cuts
    assert answer.text and long_trie.accepts(ids) and len(ids) <= 9
    # its score is the model's own for the answer returned (end token included), not for the cut chain
    assert answer.score == pytest.approx(forced_score(gen, "classify", sources[2], answer.text), abs=1e-4)


def test_the_tokenizer_is_safe_to_share_between_request_threads_and_a_batch_worker(gen):
    """Request threads measure sources (no padding) while a batch worker pads a batch: a fast tokenizer
    keeps those settings as shared state, and without the lock a padded batch came out ragged."""
    long_text, short_text = "툴젠 유전자 치료제 " * 200, "툴젠"
    errors: list[BaseException] = []

    def measure() -> None:
        for _ in range(40):
            longest = gen.task("classify")["max_source_length"]
            assert gen.source_lengths("classify", [long_text, short_text])[0] == longest

    def pad() -> None:
        for _ in range(40):
            batch = gen.encode([long_text, short_text], max_length=64, truncation=True, padding=True,
                               return_tensors="pt")
            assert tuple(batch.input_ids.shape) == (2, 64)

    def run(work) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,)) for work in (measure, pad) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
