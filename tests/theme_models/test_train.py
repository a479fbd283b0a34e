"""End to end: ``theme-train`` on a small slice of the real data into tmp_path, then load and run it
(like transformers' example tests: a few steps, only that it runs and writes what servers read)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.candidates import RELEVANCE_OUTPUTS, article_text, classify_outputs, classify_source, relevance_source
from shared.related import RelatedWords
from shared.t5 import META_FILE, T5Generator
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from shared.pairs import NONE
from theme_models import train
from theme_models.data import build_examples, naver_articles
from theme_models.labels import Labeller
from theme_models.evaluate import evaluate_model

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
THEMES = ROOT / "data" / "themes.csv"
pytestmark = pytest.mark.skipif(not (DATA / "news_naver_finance_2025").is_dir(), reason="../shared/data absent")

TINY = ["--d_model", "32", "--d_ff", "64", "--d_kv", "8", "--num_heads", "2", "--num_layers", "1",
        "--num_decoder_layers", "1", "--vocab_size", "3000", "--max_articles", "12", "--relevance_per_article", "1",
        "--korsts", "false", "--batch_tokens", "2048", "--warmup_steps", "1", "--threads", "1", "--do_eval", "false"]


def run(out: Path, steps: int, *extra: str) -> dict:
    train.main(["--output_dir", str(out), "--data_dir", str(DATA), "--themes", str(THEMES),
                "--max_steps", str(steps), *TINY, *extra])
    return json.loads((out / META_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return out, run(out / "model", 3, "--export_dir", str(out / "export"))


def test_writes_model_and_metadata(trained):
    out, meta = trained
    assert meta["training"]["steps"] == 3
    assert set(meta["tasks"]) == {"classify", "generate", "relevance"}
    assert meta["tasks"]["classify"]["prefix"] == "classify: "
    assert meta["data_summary"]["articles"] == 12
    assert meta["args"]["train"]["max_steps"] == 3
    export = out / "export"
    assert (export / "model.safetensors").is_file() and (export / META_FILE).is_file()
    assert not (export / "checkpoint").exists()


def test_model_loads_and_answers_each_task(trained):
    out, _ = trained
    gen = T5Generator.load(out / "export", "cpu")
    matcher = TfidfMatcher(ThemeList.load(THEMES))
    title, body = "툴젠, 유전자 교정 기술 이전", "툴젠이 유전자 치료제 기술을 해외에 이전했다."
    allowed = classify_outputs(article_text(title, body), matcher)
    [out_c] = gen.generate("classify", [classify_source(title, body, matcher)], [gen.trie(allowed, chain=True)], 2)
    assert all(chunk.strip() in allowed for chunk in out_c.text.split(";")) and out_c.score <= 0
    [out_r] = gen.generate("relevance", [relevance_source(title, body)], [gen.trie(RELEVANCE_OUTPUTS, chain=False)], 1)
    assert out_r.text in RELEVANCE_OUTPUTS


def test_resumes_from_its_checkpoint(trained):
    out, _ = trained
    meta = run(out / "model", 5)  # same output dir, more steps: continues at step 3
    assert meta["training"]["steps"] == 5


def test_evaluation_runs_on_the_model(trained):
    out, _ = trained
    results = evaluate_model(out / "export", DATA, THEMES, limit=3, beams=1, relevance_limit=8)
    assert {"naver-dev", "nate", "relevance"} <= set(results)
    rules = results["naver-dev"]["rules"]  # the naver-dev gold is the rules' own labels
    assert rules["gold"] > 0 and rules["precision"] == rules["recall"] == 1.0
    assert "second_reader" in results["naver-judged-7"] and "second_reader" not in results["naver-judged-1"]


def test_evaluation_takes_a_relevance_model_apart_from_the_generator(trained, tmp_path):
    """``theme-eval --rel_model``, as the server's REL_MODEL_DIR: a model without the relevance task
    scores ``/inference`` with another's."""
    out, _ = trained
    run(tmp_path, 2, "--tasks", "generate", "--tokenizer_name", str(out / "export"))
    alone = evaluate_model(tmp_path, DATA, THEMES, limit=2, beams=1, relevance_limit=8)
    assert "inference" not in alone["naver-dev"] and "relevance" not in alone
    paired = evaluate_model(tmp_path, DATA, THEMES, limit=2, beams=1, relevance_limit=8, rel_model_dir=out / "export")
    assert "inference" in paired["naver-dev"] and paired["relevance"]["naver-dev"]["pairs"] == 8


def test_evaluation_runs_on_the_ctranslate2_copy(trained):
    pytest.importorskip("ctranslate2", reason="the CTranslate2 backend is optional")
    from shared.ct2 import convert

    out, _ = trained
    convert(out / "export", out / "export-ct2")
    results = evaluate_model(out / "export", DATA, THEMES, limit=2, beams=1, relevance_limit=8, backend="ctranslate2")
    assert {"t5", "theme_inference", "inference"} <= set(results["naver-dev"])
    assert results["relevance"]["naver-dev"]["pairs"] == 8


@pytest.mark.parametrize("bad", [["--tasks", "classify,spell"], ["--max_steps", "0"], ["--save_dtype", "int8"],
                                 ["--reader_labels", "no-such-labels.csv"], ["--reader_repeat", "0"],
                                 ["--reader_tasks", "relevance"], ["--reader_tasks", ""]])
def test_bad_arguments_are_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        train.main(["--output_dir", str(tmp_path), "--data_dir", str(DATA), "--themes", str(THEMES), *TINY, *bad])


def test_the_model_carries_related_words_from_its_training_articles(trained):
    out, meta = trained
    spec = meta["related_words"]
    assert spec["articles"] == 12 and spec["words"] > spec["dims"] >= 1
    assert (out / "export" / spec["file"]).is_file()
    related = RelatedWords.for_model(out / "export", meta)
    assert len(related.words) == spec["words"]


def test_a_reader_s_labels_replace_the_rules_and_are_repeated():
    matcher = TfidfMatcher(ThemeList.load(THEMES))
    articles = [a for a in naver_articles(DATA, "train", 60)
                if Labeller(matcher).label(a.title, a.body).pairs][:3]  # the rules tie a stock in each
    readers = {articles[0].id: {}}  # the reader ties none in the first
    examples, summary = build_examples(DATA, matcher, articles, ("classify",), readers=readers, reader_repeat=3)
    first = classify_source(articles[0].title, articles[0].body, matcher)
    assert [e.target for e in examples if e.source == first] == [NONE] * 3
    assert summary["reader_articles"] == 1 and summary["classify_examples"] == 5


def test_a_reader_s_labels_may_replace_the_rules_in_some_tasks_only():
    matcher = TfidfMatcher(ThemeList.load(THEMES))
    article = next(a for a in naver_articles(DATA, "train", 60) if Labeller(matcher).label(a.title, a.body).pairs)
    readers = {article.id: {}}  # the reader ties none, the rules at least one
    both = ("classify", "generate")
    examples, summary = build_examples(DATA, matcher, [article], both, readers=readers, reader_tasks=("classify",),
                                       reader_repeat=3)
    assert [e.target for e in examples if e.task == "classify"] == [NONE] * 3  # the reader's, repeated
    generated = [e.target for e in examples if e.task == "generate"]
    assert any(t != NONE for t in generated)  # the rules', seen once
    assert summary["reader_articles"] == 1 and summary["article_pairs"] > summary["reader_pairs"] == 0
    examples, _ = build_examples(DATA, matcher, [article], both, readers=readers, reader_tasks=("generate",),
                                 reader_repeat=3)
    classified = [e.target for e in examples if e.task == "classify"]
    assert len(classified) == 1 and classified[0] != NONE
    assert all(e.target == NONE for e in examples if e.task == "generate")
    # a reader of a task not trained labels nothing
    _, summary = build_examples(DATA, matcher, [article], ("classify",), readers=readers, reader_tasks=("generate",))
    assert summary["reader_articles"] == 0
