"""The CTranslate2 backend against transformers on the shipped model: same answers, same kind of score.

The sentences are written for this test (not taken from the corpus); each names listed stocks of the
shipped theme list, so every task has real candidates to choose from.
"""
import pytest

from shared.backends import GENERATOR_DEFAULTS, load_generator
from shared.batching import BatchingGenerator
from shared.candidates import (RELEVANCE_OUTPUTS, article_text, classify_outputs, classify_source, generate_outputs,
                               generate_source, relevance_source, split_sentences)
from shared.ct2 import SCORE_ALL
from shared.t5 import T5Generator
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from tests.conftest import ROOT

ARTICLES = [
    ("삼성전자, 5세대 HBM 엔비디아 공급 확대",
     "삼성전자가 고대역폭메모리(HBM) 5세대 제품을 엔비디아에 공급한다. 업계는 SK하이닉스와의 HBM 경쟁이 "
     "본격화할 것으로 보고 있다. 반도체 업황 회복에 메모리 가격도 오르고 있다."),
    ("LG에너지솔루션, 북미 ESS 배터리 대규모 수주",
     "LG에너지솔루션이 미국 전력회사와 에너지저장장치(ESS)용 리튬인산철(LFP) 배터리 공급 계약을 맺었다고 "
     "밝혔다. 2차전지 업황 부진 속에서 나온 대형 수주다."),
    ("한화에어로스페이스, 폴란드에 K9 자주포 추가 수출",
     "한화에어로스페이스는 폴란드 군비청과 K9 자주포 2차 실행계약을 체결했다. 방산 수출 실적이 올해 "
     "사상 최대를 기록할 전망이다."),
    ("툴젠, 유전자교정 CAR-T 세포치료제 중국에 기술이전",
     "툴젠은 유전자가위 기술을 적용한 CAR-T 세포치료제 후보물질을 중국 바이오 기업에 기술이전했다고 "
     "밝혔다. 계약금과 단계별 기술료를 받는다."),
    ("두산에너빌리티, 체코 원전 주기기 공급 계약",
     "두산에너빌리티가 체코 신규 원전 사업의 주기기 공급 계약을 따냈다. 원전 수출 기대감에 주가가 "
     "장중 8% 올랐다."),
    ("현대차, 울산 전기차 전용 공장 가동",
     "현대차가 울산에 전기차 전용 공장을 짓고 양산에 들어갔다. 셀트리온은 바이오시밀러 신제품의 유럽 "
     "허가를 받았다고 밝혔다. 카카오는 AI 챗봇 서비스를 새로 내놨다."),
    ("HD현대중공업, LNG 운반선 4척 수주",
     "HD현대중공업이 유럽 선사로부터 LNG 운반선 4척을 수주했다. 조선업계는 올해 LNG선 발주가 이어질 "
     "것으로 본다."),
]


@pytest.fixture(scope="module")
def matcher():
    return TfidfMatcher(ThemeList.load(ROOT / "data" / "themes.csv"))


@pytest.fixture(scope="module")
def hf(t5_model_dir):
    return T5Generator.load(t5_model_dir, "cpu")


@pytest.fixture(scope="module")
def ct2_int8(ct2_model_dir):
    from shared.ct2 import CT2Generator

    return CT2Generator.load(ct2_model_dir, "cpu", threads=2)


@pytest.fixture(scope="module")
def ct2_fp32(ct2_model_dir):
    from shared.ct2 import CT2Generator

    return CT2Generator.load(ct2_model_dir, "cpu", threads=2, compute_type="float32")


def cases(model, matcher):
    """(task, source, trie) for every task on every article: the whole article, each body sentence
    that names a stock, and the relevance of the first body sentence to the title."""
    out = []
    for title, body in ARTICLES:
        text = article_text(title, body)
        out.append(("classify", classify_source(title, body), model.trie(classify_outputs(text, matcher), chain=True)))
        for sentence in split_sentences(body):
            outputs = generate_outputs(sentence, matcher, title, body)
            if len(outputs) > 1:
                out.append(("generate", generate_source(sentence), model.trie(outputs, chain=True)))
        out.append(("relevance", relevance_source(title, split_sentences(body)[0]),
                    model.trie(RELEVANCE_OUTPUTS, chain=False)))
    return out


def test_the_test_sentences_give_every_task_candidates(hf, matcher):
    tasks = [task for task, _, trie in cases(hf, matcher) if len(trie.sequences) > 1]
    assert tasks.count("classify") >= 4 and tasks.count("generate") >= 6, tasks


def test_top_answers_agree_with_transformers(hf, ct2_int8, ct2_fp32, matcher):
    """int8 (the CPU default) and float32 choose what transformers' constrained beam search chooses, but
    for the rare input where the two searches part (CTranslate2 searches without the trie, then keeps the
    best allowed hypothesis: see shared/ct2.py); float32 scores are within 1e-3 of transformers'."""
    todo = cases(hf, matcher)
    parted = []
    for task, source, trie in todo:
        [ref] = hf.generate(task, [source], [trie], 4)
        [fast] = ct2_int8.generate(task, [source], [trie], 4)
        [exact] = ct2_fp32.generate(task, [source], [trie], 4)
        for ours in (fast, exact):
            assert trie.accepts(hf.tokenizer(ours.text, add_special_tokens=False).input_ids), ours.text
        if exact.text == ref.text:
            assert exact.score == pytest.approx(ref.score, abs=1e-3), (task, source)
        if fast.text == ref.text:
            assert fast.score == pytest.approx(ref.score, abs=0.05), (task, source)
        if not fast.text == exact.text == ref.text:
            parted.append((task, source, ref.text, fast.text, exact.text))
    print(f"{len(todo) - len(parted)} of {len(todo)} agree; parted: {parted}")
    assert len(parted) <= len(todo) // 10, parted


def test_a_forced_output_scores_as_in_transformers(hf, ct2_fp32, matcher):
    """Scoring one whole output (CTranslate2's score_batch) gives transformers' beam score of it."""
    title, body = ARTICLES[0]
    source = classify_source(title, body)
    for output in classify_outputs(article_text(title, body), matcher)[:4]:
        trie = hf.trie([output], chain=False)
        [ref] = hf.generate("classify", [source], [trie], 4)
        [ours] = ct2_fp32.generate("classify", [source], [trie], 4)
        assert ours.text == ref.text == output
        assert ours.score == pytest.approx(ref.score, abs=1e-4)


def test_unconstrained_generation_agrees(hf, ct2_fp32):
    """Compared with transformers' ``early_stopping=True`` search, which CTranslate2's matches; a model's
    ``theme_model.json`` may ask transformers to search on (``False``) for its constrained answers."""
    decoding = {**hf.meta.get("decoding", {}), "early_stopping": True}
    hf = T5Generator(hf.model, hf.tokenizer, hf.device, {**hf.meta, "decoding": decoding}, hf.path)
    sources = [generate_source(split_sentences(body)[0]) for _, body in ARTICLES]
    for ref, ours in zip(hf.generate("generate", sources, None, 4), ct2_fp32.generate("generate", sources, None, 4)):
        assert ours.text == ref.text
        assert ours.score == pytest.approx(ref.score, abs=1e-3)


def test_when_no_hypothesis_is_allowed_the_outputs_are_scored(hf, ct2_fp32, matcher):
    """Beam search path forced (score_all=0): an answer is always one of the allowed outputs."""
    title, body = ARTICLES[1]
    outputs = classify_outputs(article_text(title, body), matcher)
    trie = ct2_fp32.trie(outputs, chain=True)
    ct2_fp32.score_all = 0
    try:
        [ours] = ct2_fp32.generate("classify", [classify_source(title, body)], [trie], 4)
    finally:
        ct2_fp32.score_all = SCORE_ALL
    assert all(part.strip() in outputs for part in ours.text.split(";")), ours.text
    assert ours.score <= 0


def test_batched_ct2_answers_match_unbatched(ct2_model_dir, ct2_int8, matcher):
    config = {**GENERATOR_DEFAULTS, "DEVICE": "cpu", "BACKEND": "ctranslate2", "CT2_THREADS": 2}
    batched = load_generator(ct2_model_dir, config)
    try:
        assert isinstance(batched, BatchingGenerator)
        todo = cases(ct2_int8, matcher)
        generate = [c for c in todo if c[0] == "generate"]
        alone = [ct2_int8.generate("generate", [s], [t], 4)[0] for _, s, t in generate]
        together = batched.generate("generate", [s for _, s, _ in generate], [t for _, _, t in generate], 4)
        assert [g.text for g in together] == [g.text for g in alone]
        assert [g.score for g in together] == pytest.approx([g.score for g in alone], abs=1e-3)
        assert batched.health()["backend"] == "ctranslate2"
    finally:
        batched.close()


def test_a_model_that_was_not_converted_fails_with_the_command_to_run(tmp_path, t5_model_dir):
    pytest.importorskip("ctranslate2")
    config = {**GENERATOR_DEFAULTS, "DEVICE": "cpu", "BACKEND": "ctranslate2"}
    with pytest.raises(FileNotFoundError, match="make ct2"):
        load_generator(tmp_path / "theme-t5", config)


def test_an_unknown_backend_names_the_choices(t5_model_dir):
    with pytest.raises(ValueError, match="transformers, ctranslate2"):
        load_generator(t5_model_dir, {**GENERATOR_DEFAULTS, "BACKEND": "onnx"})
