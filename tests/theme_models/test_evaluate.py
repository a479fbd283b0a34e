"""theme-eval: how the naver-judged sets' reading labels become gold; its options."""
from __future__ import annotations

import csv

import pytest

from tests.conftest import SHARED_DATA
from theme_models import evaluate
from theme_models.data import naver_articles
from theme_models.evaluate import JUDGED, judged_docs

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "news_naver_finance_2025").is_dir(), reason="no shared data")


def test_labels_become_gold_per_batch(tmp_path):
    first, second = (a.id for a in naver_articles(SHARED_DATA, "dev", 2))
    labels = tmp_path / "labels.csv"
    with open(labels, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([
            ["batch", "id", "stock", "themes", "note"],
            [1, first, "툴젠", "유전자 치료제/분석|면역항암제", ""],
            [1, first, "삼성전자", "", "discussed, no fitting theme"],  # not gold
            [1, second, "", "", "no listed stock tied to a theme"],
            [2, first, "SK하이닉스", "HBM(고대역폭메모리)", ""],
        ])
    sets = judged_docs(SHARED_DATA, labels)
    assert sorted(sets) == ["naver-judged-1", "naver-judged-2"]
    assert [(d.id, d.gold) for d in sets["naver-judged-1"]] == [
        (first, {"툴젠": ["유전자 치료제/분석", "면역항암제"]}), (second, {})]
    assert [d.gold for d in sets["naver-judged-2"]] == [{"SK하이닉스": ["HBM(고대역폭메모리)"]}]
    assert [len(docs) for docs in judged_docs(SHARED_DATA, labels, limit=1).values()] == [1, 1]
    assert judged_docs(SHARED_DATA, tmp_path / "missing.csv") == {}
    again = tmp_path / "second.csv"
    with open(again, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["batch", "id", "stock", "themes", "note"], [2, first, "", "", "none"]])
    sets = judged_docs(SHARED_DATA, labels, second=again)
    assert [d.second for d in sets["naver-judged-1"]] == [None, None]  # not read again
    assert [d.second for d in sets["naver-judged-2"]] == [{}]  # read again: no stock


def test_the_shipped_labels_are_ten_batches_of_all_naver_dev_articles():
    sets = judged_docs(SHARED_DATA, JUDGED)
    sizes = {f"naver-judged-{b}": 40 for b in range(1, 9)} | {"naver-judged-9": 39, "naver-judged-10": 39}
    assert {name: len(docs) for name, docs in sets.items()} == sizes
    ids = {d.id for docs in sets.values() for d in docs}
    assert len(ids) == 398 == len(list(naver_articles(SHARED_DATA, "dev")))  # each dev article in one batch
    assert all((d.second is not None) == (name in ("naver-judged-7", "naver-judged-8"))
               for name, docs in sets.items() for d in docs)


def test_theme_eval_refuses_a_positive_min_rel_score(capsys):
    """As the server refuses MIN_REL_SCORE above 0, before any model is loaded."""
    with pytest.raises(SystemExit) as exit_:
        evaluate.main(["--min_rel_score", "0.5"])
    assert exit_.value.code == 2
    assert "--min_rel_score: a log-probability, 0 or below" in capsys.readouterr().err


def test_theme_eval_refuses_a_relevance_model_without_the_generator(capsys):
    with pytest.raises(SystemExit) as exit_:
        evaluate.main(["--rel_model", "models/theme-t5"])
    assert exit_.value.code == 2
    assert "--rel_model: give --model too" in capsys.readouterr().err
