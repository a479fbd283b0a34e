"""Theme generation without Flask: sentence by sentence (theme, stock) pairs, relevance, clustering.

Every sentence of an article is one input of the ``generate`` task (with the title as context, as in
training), decoded under a constraint: only pairs of the stocks the sentence names with their themes
in the active list, or ``없음`` where the sentence names no stock the article ties to a theme
(``generate_outputs``: the relevance model, not ``없음``, then keeps ``/inference`` to the title's
subject). All the sentences of a request go through the model together, in batches of
``batch_size``. A sentence that names no listed stock is answered ``없음`` without a model call.
Relevance has two possible answers, so it is decoded greedily (as ``theme-eval`` does); for
``/inference`` a sentence answered ``unrelated`` is asked again for the score of ``related`` alone,
and kept if that reaches ``MIN_REL_SCORE`` (``relate``).
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import islice

from shared.candidates import (RELATED, RELEVANCE_OUTPUTS, UNRELATED, article_text, generate_outputs, generate_source,
                               left_out_outputs, reads_hints, relevance_source)
from shared.errors import BadUpload
from shared.pairs import NONE, NONE_SCORE, parse_pairs
from shared.related import relevance_hints
from shared.t5 import Generation, OutputTrie, T5Generator
from shared.tfidf import TfidfMatcher
from theme_generation import clustering
from theme_generation.sentences import SentenceSplitter

logger = logging.getLogger(__name__)

NONE_ENTRY = {"theme": NONE, "stock": NONE, "score": NONE_SCORE}
DEFAULT_MIN_REL_SCORE = -0.6  # /inference: see ``relate``


class GenerationService:
    """Holds the models, the splitter and the matcher; every method is safe to call from many threads."""

    def __init__(self, generator: T5Generator, relevance: T5Generator, matcher: TfidfMatcher,
                 splitter: SentenceSplitter, *, num_beams: int = 4, batch_size: int = 16,
                 max_sentences: int = 64, cluster_threshold: float = clustering.DEFAULT_THRESHOLD,
                 min_rel_score: float = DEFAULT_MIN_REL_SCORE) -> None:
        self.generator, self.relevance_model, self.matcher, self.splitter = generator, relevance, matcher, splitter
        self.num_beams, self.batch_size, self.max_sentences = num_beams, max(1, batch_size), max(1, max_sentences)
        self.cluster_threshold, self.min_rel_score = cluster_threshold, min_rel_score
        self._relevance_trie = relevance.trie(RELEVANCE_OUTPUTS, chain=False)
        self._related_trie = relevance.trie([RELATED], chain=False)  # ``relate``'s second pass
        self._relevance_matcher, self._related = relevance_hints(relevance, matcher)
        if self._related:
            logger.info("relevance hint: %d related words (min similarity %g)", len(self._related.words),
                        self._related.min_similarity)
        self._trie = lru_cache(maxsize=4096)(self._build_trie)

    # -- endpoints ------------------------------------------------------------------------------

    def generation(self, title: str, body: str) -> list[dict]:
        """``[{idx, result: [{theme, stock, score}], sentence}]``, the title as sentence 0."""
        sentences = self.sentences(title, body)
        return [{"idx": idx, "result": pairs, "sentence": sentence}
                for idx, (sentence, pairs) in enumerate(zip(sentences, self._generate(title, body, sentences)))]

    def inference(self, title: str, body: str) -> list[dict]:
        """The pairs of the sentences related to the title, in sentence order; ``score = gen + rel``."""
        sentences = self.sentences(title, body)
        generated = self._generate(title, body, sentences)
        found = [i for i, pairs in enumerate(generated) if pairs[0]["theme"] != NONE]
        relations = self._relate(title, [sentences[i] for i in found], article_text(title, body), self.min_rel_score)
        results = []
        for i, (related, rel_score) in zip(found, relations):
            if not related:
                continue
            results.extend({"theme": p["theme"], "stock": p["stock"], "score": round(p["score"] + rel_score, 3),
                            "gen_score": p["score"], "rel_score": rel_score, "sentence": sentences[i]}
                           for p in generated[i])
        return results

    def relevance(self, title: str, body: str) -> dict:
        """Is ``body`` about what ``title`` is about? Over-long inputs are truncated by the tokenizer."""
        [(related, score)] = self._relate(title, [body])
        return {"result": int(related), "result_text": RELATED if related else UNRELATED, "score": score}

    def clustering(self, data: bytes) -> tuple[list[dict], clustering.Upload]:
        """Themes of many analysed articles, near-duplicate names merged; the rows read and skipped."""
        with clustering.gc_paused():
            try:
                upload = clustering.read_upload(data)
            except clustering.UploadError as exc:
                raise BadUpload(str(exc)) from None
            groups = clustering.cluster(upload.articles, self.cluster_threshold, self.matcher.themes.themes)
        if upload.skipped:
            shown = "; ".join(f"line {s.line}: {s.reason}" for s in upload.skipped[:10])
            logger.warning("clustering: %d of %d rows could not be read and were left out: %s%s",
                           len(upload.skipped), upload.rows, shown, " ..." if len(upload.skipped) > 10 else "")
        return groups, upload

    def health(self) -> dict:
        models = {"generator": self.generator.health()}
        if self.relevance_model is not self.generator:
            models["relevance"] = self.relevance_model.health()
        started = time.perf_counter()
        sentences = self.splitter.split("건강 확인 문장이다.두 번째 문장이다.")
        split_ms = round((time.perf_counter() - started) * 1000, 1)
        themes = self.matcher.themes
        return {"status": "ok", "process": os.getpid(), **models,
                "splitter": {"sentences": len(sentences), "ms": split_ms},
                "theme_list": {"pairs": len(themes), "themes": len(themes.themes), "stocks": len(themes.stocks)},
                "related_words": ({"words": len(self._related.words), "min_similarity": self._related.min_similarity}
                                  if self._related else None),
                "max_sentences": self.max_sentences}

    # -- steps ----------------------------------------------------------------------------------

    def sentences(self, title: str, body: str) -> list[str]:
        """The title, then the body's sentences, at most ``max_sentences`` in all (the rest is left out)."""
        room = self.max_sentences - 1
        body_sentences = self.splitter.split(body, room + 1) if room else []
        if len(body_sentences) > room:
            logger.warning("the article has more than %d sentences: only the first %d are analysed (MAX_SENTENCES)",
                           self.max_sentences, self.max_sentences)
            body_sentences = body_sentences[:room]
        return [title.strip(), *body_sentences]

    def _generate(self, title: str, body: str, sentences: Sequence[str]) -> list[list[dict]]:
        generations = generate_sentences(self.generator, self.matcher, title, body, sentences, self.num_beams,
                                         self.batch_size, self._trie)
        return [_pairs(g) for g in generations]

    def _relate(self, title: str, texts: Sequence[str], article: str = "",
                min_score: float | None = None) -> list[tuple[bool, float]]:
        """Each text related to ``title`` or not; ``article``: the one the title heads (``/inference``);
        ``min_score``: see ``relate``."""
        sources = [relevance_source(title, text, self._relevance_matcher, self._related, article) for text in texts]
        return [(related, round(score, 3)) for related, score in
                relate(self.relevance_model, sources, self.batch_size, min_score,
                       (self._relevance_trie, self._related_trie))]

    def _build_trie(self, outputs: tuple[str, ...]) -> OutputTrie:
        return self.generator.trie(list(outputs), chain=True)


def relate(model: T5Generator, sources: Sequence[str], batch_size: int, min_score: float | None = None,
           tries: tuple[OutputTrie, OutputTrie] | None = None) -> list[tuple[bool, float]]:
    """``(related, score)`` for each relevance input (``relevance_source``): the model's answer, decoded
    greedily, with its score. With ``min_score`` below 0 (``/inference``'s ``MIN_REL_SCORE``), an input
    answered ``unrelated`` counts as related all the same when the score of ``related``, decoded for it
    alone, is at least ``min_score``; that score is then its score. ``tries``: the model's tries for
    both answers and for ``related`` alone, if built already.

    The shipped model scores ``related`` about -0.1 where it answers so. Where it answers ``unrelated``
    the score is -0.4 for near ties and -0.7 to -0.8 for the rest, on held-out article pairs as on
    the sentences ``/inference`` asks about, and never below -1.0: at -0.6 (the default) its accuracy
    on 2,000 held-out article pairs moves from 0.802 to 0.800 and near ties count as related; at -1.0
    every input counts as related (docs/models.md)."""
    both, only_related = tries or (model.trie(RELEVANCE_OUTPUTS, chain=False), None)
    answers: list[tuple[bool, float]] = []
    for chunk in batched(sources, batch_size):
        generations = model.generate("relevance", list(chunk), [both] * len(chunk), num_beams=1)
        answers.extend((g.text == RELATED, g.score) for g in generations)
    again = [i for i, (related, _) in enumerate(answers) if not related]
    if min_score is None or min_score >= 0 or not again:
        return answers
    only_related = only_related or model.trie([RELATED], chain=False)
    for chunk in batched(again, batch_size):
        generations = model.generate("relevance", [sources[i] for i in chunk], [only_related] * len(chunk), num_beams=1)
        for i, g in zip(chunk, generations):
            if g.text == RELATED and g.score >= min_score:
                answers[i] = (True, g.score)
    return answers


def generate_sentences(generator: T5Generator, matcher: TfidfMatcher, title: str, body: str,
                       sentences: Sequence[str], num_beams: int, batch_size: int,
                       trie: Callable[[tuple[str, ...]], OutputTrie] | None = None) -> list[Generation | None]:
    """The generator's answer for each sentence of an article (``None``: it names no listed stock and
    the model is not asked). The sentences go through the model together, in batches of similar
    length. A sentence naming a stock the article ties to a theme may not answer ``없음``
    (``generate_outputs(answer_tied=True)``), and while its answer leaves out such stocks the
    generator is asked again, for those alone (``left_out_outputs``); the answers are joined and share
    the lowest score."""
    article = article_text(title, body)  # where evidence for an ambiguous stock name may be found
    hinted = matcher if reads_hints(generator.meta) else None  # the input the model was trained on
    trie = trie or (lambda outputs: generator.trie(list(outputs), chain=True))
    outputs = {i: o for i, s in enumerate(sentences)
               if (o := tuple(generate_outputs(s, matcher, title, article, answer_tied=True))) != (NONE,)}
    sources = {i: generate_source(sentences[i], title, hinted, article) for i in outputs}
    answers = _generate_batches(generator, sources, outputs, trie, num_beams, batch_size)
    todo = list(answers)
    while todo:  # each pass answers at least one left-out stock per sentence, so this ends
        rest = {i: tuple(left) for i in todo if (left := left_out_outputs(
            sentences[i], matcher, title, article, {stock for _, stock in parse_pairs(answers[i].text)}))}
        for i, extra in _generate_batches(generator, sources, rest, trie, num_beams, batch_size).items():
            answered = answers[i] if parse_pairs(answers[i].text) else None
            answers[i] = (Generation(f"{answered.text} ; {extra.text}", min(answered.score, extra.score))
                          if answered else extra)
        todo = list(rest)
    return [answers.get(i) for i in range(len(sentences))]


def _generate_batches(generator: T5Generator, sources: dict[int, str], outputs: dict[int, tuple[str, ...]],
                      trie: Callable, num_beams: int, batch_size: int) -> dict[int, Generation]:
    """``sources`` and ``outputs``: sentence index -> its model input, its allowed outputs."""
    todo = sorted(outputs, key=lambda i: len(sources[i]))  # similar lengths together: less padding
    generations: dict[int, Generation] = {}
    for chunk in batched(todo, batch_size):
        tries = [trie(outputs[i]) for i in chunk]
        generations.update(zip(chunk, generator.generate("generate", [sources[i] for i in chunk], tries, num_beams)))
    return generations


def batched(items: Iterable, size: int) -> Iterator[tuple]:
    """``itertools.batched`` (Python 3.12+)."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


def _pairs(generation: Generation | None) -> list[dict]:
    pairs = parse_pairs(generation.text) if generation else []
    if not pairs:
        return [dict(NONE_ENTRY)]
    score = round(generation.score, 3)
    return [{"theme": theme, "stock": stock, "score": score} for theme, stock in pairs]
