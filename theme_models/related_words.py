"""Build the related words of ``shared.related`` from the training articles and store them in a model directory.

Each training article (title + body; the held-out dev tenth is never read) is a set of its content words
(``shared.candidates.content_words``). For the words in at least ``min_df`` articles (numbers with or without their unit left out: ``24일``, ``2400원``): the positive
pointwise mutual information of every two words by the articles they share, ``log(n(a,b) N / (n(a) n(b)))``
where positive; a truncated SVD of that matrix to ``dims`` dimensions; the vectors centred on their mean
(the corpus's common direction: every two finance words are otherwise close) and normalised; and each
word's idf ``log(N / n(w))``. Stored as float16 (``related_words.npz``, about 5 MB); the model's
``theme_model.json`` names the file and the threshold (``"related_words"``).

    python -m theme_models.related_words --model models/theme-t5    # theme-train runs it too
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD

from shared.candidates import content_words
from shared.related import DEFAULT_MIN_SIMILARITY, RELATED_FILE, RelatedWords
from shared.t5 import META_FILE
from theme_models.data import naver_articles

logger = logging.getLogger(__name__)

# A number with or without its unit (24일, 2400원, 1.5%, 27포인트, 3분기), but not a word that starts with
# one (2차전지, 5G).
NUMBER = re.compile(r"\d[\d,.]*(?:%|원|억|조|만|천|억원|조원|만원|천원|일|월|년|개|명|배|주|시|분|초|위|건|곳|차|세|"
                    r"포인트|분기|개월|거래일|달러|억달러|만명|만주|만대|대|호|번|층|회|곳|종|점|년간|일간|배럴|톤)?")


def build(texts: Iterable[str], dims: int = 128, min_df: int = 5, seed: int = 0,
          min_similarity: float = DEFAULT_MIN_SIMILARITY) -> RelatedWords:
    docs = [set(content_words(t)) for t in texts]
    df: dict[str, int] = {}
    for words in docs:
        for w in words:
            df[w] = df.get(w, 0) + 1
    vocabulary = sorted(w for w, n in df.items() if n >= min_df and not NUMBER.fullmatch(w))  # a number is no topic
    if len(vocabulary) < 3:
        raise ValueError(f"{len(vocabulary)} words in at least {min_df} articles: too few to relate")
    dims = min(dims, len(vocabulary) - 1)  # a small corpus (a test run) gets fewer dimensions
    index = {w: i for i, w in enumerate(vocabulary)}
    rows = [r for r, words in enumerate(docs) for w in words if w in index]
    cols = [index[w] for words in docs for w in words if w in index]
    occurs = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(docs), len(vocabulary)))
    together = (occurs.T @ occurs).tocoo()
    counts = np.asarray(occurs.sum(axis=0)).ravel()
    pmi = np.log(together.data * len(docs) / (counts[together.row] * counts[together.col]))
    keep = (pmi > 0) & (together.row != together.col)
    ppmi = sp.csr_matrix((pmi[keep], (together.row[keep], together.col[keep])), shape=together.shape)
    vectors = TruncatedSVD(dims, random_state=seed).fit_transform(ppmi)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    vectors -= vectors.mean(axis=0)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    idf = np.log(len(docs) / counts)
    return RelatedWords(vocabulary, vectors, idf, min_similarity)


def add_to_model(model_dir: Path, data_dir: Path, dims: int = 128, min_df: int = 5,
                 min_similarity: float = DEFAULT_MIN_SIMILARITY, limit: int | None = None) -> dict | None:
    """Build from the training articles (the first ``limit``), save into ``model_dir`` and name them in
    its ``theme_model.json``; None, with a warning, when the articles are too few to relate any word."""
    started = time.perf_counter()
    articles = naver_articles(data_dir, "train", limit)
    try:
        related = build((f"{a.title}\n{a.body}" for a in articles), dims, min_df, min_similarity=min_similarity)
    except ValueError as e:
        logger.warning("no related words for %s: %s", model_dir, e)
        return None
    related.save(model_dir / RELATED_FILE)
    spec = {"file": RELATED_FILE, "min_similarity": min_similarity, "words": len(related.words),
            "dims": related.vectors.shape[1], "min_df": min_df, "articles": len(articles)}
    meta_file = model_dir / META_FILE
    meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
    meta["related_words"] = spec
    meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    logger.info("related words: %d words from %d articles in %.1fs -> %s", len(related.words), len(articles),
                time.perf_counter() - started, model_dir / RELATED_FILE)
    return spec


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the model directory to add them to")
    parser.add_argument("--data_dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--min_df", type=int, default=5, help="keep words in at least this many articles")
    parser.add_argument("--min_similarity", type=float, default=DEFAULT_MIN_SIMILARITY)
    args = parser.parse_args(argv)
    add_to_model(args.model, args.data_dir, args.dims, args.min_df, args.min_similarity)


if __name__ == "__main__":
    main()
