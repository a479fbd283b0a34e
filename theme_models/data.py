"""Training and dev data for the three T5 tasks, built from ``../shared/data`` at run time.

Nothing built here is written into the repository: article text stays in the shared data folder
(publishers' copyright). A run saves only counts (``data_summary``) beside its model.

Sources:
- ``news_naver_finance_2025/articles.csv``: ~4,000 articles. A fixed tenth (by a hash of the article
  id) is held out as the dev slice; the rest trains. Labels come from ``theme_models.labels``.
- ``korsts/``: sentence pairs for relevance (``sts-train`` trains; ``sts-dev`` + ``sts-test`` evaluate).
- The theme list (``data/themes.csv``), built from ``naver_themes_2026`` and ``krx_listing_2025``.
"""
from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from shared.candidates import (RELATED, UNRELATED, article_text, classify_outputs, classify_source, generate_outputs,
                               generate_source, relevance_source)
from shared.pairs import NONE, format_pairs
from shared.tfidf import TfidfMatcher
from theme_models.labels import Labeller

NAVER = "news_naver_finance_2025/articles.csv"
NATE = "news_nate_labeled_2025/articles_labeled.csv"
KORSTS = "korsts"
TASKS = ("classify", "generate", "relevance")
DEV_SHARE = 10  # one article in ten is held out


@dataclass
class Example:
    task: str
    source: str
    target: str


@dataclass
class Article:
    id: str
    title: str
    body: str


def read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 24)
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_labels(path: Path) -> dict[tuple[str, str], dict[str, list[str]]]:
    """A reader's labels (``batch,id,stock,themes,note``, a row per article and stock; no stock: the
    article ties none): (batch, article id) -> stock -> its themes, for the stocks given a theme (a
    stock discussed with no fitting theme is not a label)."""
    labels: dict[tuple[str, str], dict[str, list[str]]] = {}
    for row in read_csv(path):
        stocks = labels.setdefault((row["batch"], row["id"]), {})
        if row["stock"] and row["themes"]:
            stocks[row["stock"]] = row["themes"].split("|")
    return labels


def is_dev(article_id: str) -> bool:
    return int(hashlib.md5(article_id.encode()).hexdigest(), 16) % DEV_SHARE == 0


def naver_articles(data_dir: Path, split: str, limit: int | None = None) -> list[Article]:
    """``split`` is ``train`` or ``dev`` (the held-out tenth)."""
    rows = [Article(r["id"], r["title"], r["body"]) for r in read_csv(data_dir / NAVER)]
    chosen = [a for a in rows if is_dev(a.id) == (split == "dev")]
    return chosen[:limit] if limit else chosen


def korsts_pairs(data_dir: Path, files: tuple[str, ...], seed: int = 0) -> list[tuple[str, str, str]]:
    """(sentence1, sentence2, label): similarity ≥ 4 is related, ≤ 1 unrelated, and each related
    pair's first sentence with a random other pair's second sentence is unrelated too."""
    rows = []
    for name in files:
        with open(data_dir / KORSTS / name, encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
            for line in f:
                cells = dict(zip(header, line.rstrip("\n").split("\t")))
                if cells.get("sentence1") and cells.get("sentence2"):
                    rows.append((cells["sentence1"], cells["sentence2"], float(cells["score"])))
    rng = random.Random(seed)
    out = []
    for s1, s2, score in rows:
        if score >= 4.0:
            out.append((s1, s2, RELATED))
            out.append((s1, rng.choice(rows)[1], UNRELATED))
        elif score <= 1.0:
            out.append((s1, s2, UNRELATED))
    return out


def relevance_pairs(articles: list[Article], per_article: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """Self-supervision: a title with sentences of its own article (related) and with sentences of
    other articles (unrelated), equally many."""
    from shared.candidates import split_sentences

    rng = random.Random(seed)
    sentences = [[s for s in split_sentences(a.body) if 15 <= len(s) <= 400] for a in articles]
    out = []
    usable = sum(1 for x in sentences if x)
    for i, article in enumerate(articles):
        own = sentences[i]
        if usable - bool(own) == 0:
            continue  # no other article to draw an unrelated sentence from
        for s in rng.sample(own, min(per_article, len(own))):
            out.append((article.title, s, RELATED))
            j = rng.randrange(len(articles))
            while j == i or not sentences[j]:
                j = rng.randrange(len(articles))
            out.append((article.title, rng.choice(sentences[j]), UNRELATED))
    return out


def build_examples(data_dir: Path, matcher: TfidfMatcher, articles: list[Article], tasks: tuple[str, ...],
                   relevance_per_article: int = 1, none_share: float = 0.02, korsts: bool = True,
                   seed: int = 0, negative_ratio: float = 1.0, readers: dict[str, dict[str, list[str]]] | None = None,
                   reader_repeat: int = 1, reader_tasks: tuple[str, ...] = ("classify", "generate")
                   ) -> tuple[list[Example], dict]:
    """Examples of the asked tasks and a summary of their label counts.

    Generator sentences: every sentence with a labelled pair; sentences that name candidates but
    get ``없음`` (passing mentions), sampled to ``negative_ratio`` per positive; and a ``none_share``
    of the sentences without any candidate (their answer is forced, but the model sees a few).
    ``readers``: article id -> a reader's labels of it (``theme_models.labels``), which replace the
    rules' there in the ``reader_tasks`` (the others keep the rules' labels); its examples of those tasks
    are given ``reader_repeat`` times."""
    rng = random.Random(seed)
    labeller = Labeller(matcher)
    examples: list[Example] = []
    generated: list[tuple[str, Example]] = []
    summary: Counter = Counter()
    readers = readers or {}
    for article in articles:
        reader = readers.get(article.id)
        read = {t for t in tasks if t in reader_tasks} if reader is not None else set()  # tasks it labels
        rules = labeller.label(article.title, article.body)
        labels = labeller.label(article.title, article.body, reader) if read else rules
        labels_of = {task: labels if task in read else rules for task in ("classify", "generate")}
        repeat_of = {task: reader_repeat if task in read else 1 for task in ("classify", "generate")}
        summary["articles"] += 1
        summary["reader_articles"] += bool(read)
        summary["article_pairs"] += len(rules.pairs)  # the rules' labels; a reader's are reader_pairs
        summary["reader_pairs"] += len(labels.pairs) if read else 0
        summary["passing_mentions"] += len(rules.passing)
        summary["reader_unoffered_themes"] += len(labels.unoffered_themes)
        if "classify" in tasks:
            source = classify_source(article.title, article.body, matcher)
            if len(classify_outputs(article_text(article.title, article.body), matcher)) > 1:
                # (with no candidate the answer is forced: nothing to learn)
                pairs, repeat = labels_of["classify"].pairs, repeat_of["classify"]
                examples += [Example("classify", source, format_pairs(pairs))] * repeat
                summary["classify_examples"] += repeat
                summary["classify_none"] += repeat * (not pairs)
        if "generate" in tasks:
            text = article_text(article.title, article.body)
            generate, repeat = labels_of["generate"], repeat_of["generate"]
            for sentence, pairs in zip(generate.sentences, generate.sentence_pairs):
                kind = "positive" if pairs else (
                    "negative" if len(generate_outputs(sentence, matcher, article.title, text)) > 1 else "empty")
                source = generate_source(sentence, article.title, matcher, text)
                generated += [(kind, Example("generate", source, format_pairs(pairs)))] * repeat
                summary[f"generate_{kind}_sentences"] += repeat
                summary["generate_pairs"] += repeat * len(pairs)
    if generated:
        positives = sum(kind == "positive" for kind, _ in generated)
        negatives = sum(kind == "negative" for kind, _ in generated)
        keep = {"positive": 1.0, "negative": min(1.0, negative_ratio * positives / max(1, negatives)),
                "empty": none_share}
        for kind, example in generated:
            if rng.random() < keep[kind]:
                examples.append(example)
                summary[f"generate_{kind}_examples"] += 1
    if "relevance" in tasks:
        pairs = relevance_pairs(articles, relevance_per_article, seed)
        if korsts:
            pairs += korsts_pairs(data_dir, ("sts-train.tsv",), seed)
        for title, sentence, label in pairs:
            examples.append(Example("relevance", relevance_source(title, sentence, matcher), label))
            summary[f"relevance_{label}"] += 1
    return examples, dict(summary)
