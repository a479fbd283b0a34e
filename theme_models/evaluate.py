"""``theme-eval``: score a T5 model directory and the dictionary baseline on labelled articles.

Systems (what each endpoint would answer):

- ``candidates``: every stock the model may choose from (``classify_outputs``), each with its
  best-evidenced theme — what the model would answer if it kept everything it is offered.
- ``rules``: the distant-supervision labeller of ``theme_models.labels`` (the naver-dev gold itself,
  so it scores 1.0 there; on the other sets it shows how far the rules agree with other labels).
- ``baseline``: the plain dictionary — every listed name found in the text (substring match), each
  with its best TF-IDF member theme (``TfidfMatcher.match``, as ``/tf_inference``).
- ``t5``: ``/t5_inference`` — the classify task, decoding constrained to the candidates of
  ``shared.candidates.classify_outputs`` (the server's own ``ClassificationService``, without HTTP).
- ``theme_inference``: ``/theme_inference``, the server's policy — the stocks the T5 chose, each with
  the dictionary's theme when the dictionary found that stock too, else the T5's; then the dictionary's
  stocks the T5 left out that the candidate rules tie to a theme.
- ``inference``: ``/inference`` — the generate task on every sentence (title first), then relevance
  of each sentence with pairs to the title; unrelated sentences dropped (as the server decides:
  ``theme_generation.service.relate``, ``--min_rel_score``). A stock's theme is that of its
  best-scored pair (``gen_score + rel_score``).
- ``second_reader`` (naver-judged-7 and -8 only): another blind reader's labels of the same articles
  (``data/naver_judged_2025_second.csv``), each stock with one of its themes the first reader gave
  too, if any — how far two readers following the same instructions agree.

Metrics, micro-averaged over articles: stock precision and recall; theme accuracy = the share of
correctly found stocks whose predicted theme is one of the stock's gold themes.

Dev sets:

- ``naver-dev``: the held-out tenth of the Naver articles, labelled by ``theme_models.labels``.
- ``nate``: the 40 GPT-labelled Nate articles. GPT lists every company it saw, with free-form topic
  categories for the article. Gold is a listed stock (by name or alias) GPT names whose member themes
  include one that matches a GPT category (``category_matches``) — the article ties it to a theme —
  and that the text names (GPT sometimes adds companies from its own knowledge);
  group names (``LG``, ``SK`` ... GPT's 'SK' in a speech article is the group, not SK Inc.) without
  evidence in the text are dropped. Its gold themes are those matching member themes.
- ``naver-judged-1`` to ``-10``: the naver-dev articles in batches of 40 (39 for the last two),
  labelled by reading (``data/naver_judged_2025.csv``, provenance in ``data/SOURCE.md``): every
  listed stock the article ties to a theme, with every fitting member theme.
- ``guide``: the 툴젠 article of the operations guide (read from ``../shared/spec``): 툴젠, a CAR-T
  company, with 유전자 치료제/분석 (Naver's theme for CAR-T).

Relevance: accuracy on KorSTS-derived pairs (``sts-dev`` + ``sts-test``: similarity ≥ 4 related,
≤ 1 unrelated, and a related pair's first sentence with a random second sentence unrelated) and on
held-out article pairs (a naver-dev title with its own sentences vs other dev articles' sentences).

    theme-eval --model models/theme-t5 --out /tmp/eval.json
    theme-eval --model models/theme-t5 --backend ctranslate2    # its converted copy (make ct2)
    theme-eval --model GEN_DIR --rel_model REL_DIR              # as the server's GEN_MODEL_DIR / REL_MODEL_DIR
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.backends import Backend
from shared.candidates import (RELEVANCE_OUTPUTS, article_text, classify_outputs, classify_source,
                               needs_evidence, relevance_source, split_sentences, stock_finder)
from shared.pairs import parse_pairs
from shared.related import relevance_hints
from shared.t5 import T5Generator
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from theme_classification.service import ClassificationService, ThemeState
from theme_generation.service import DEFAULT_MIN_REL_SCORE, generate_sentences, relate
from theme_models.data import NATE, korsts_pairs, naver_articles, read_csv, read_labels, relevance_pairs
from theme_models.labels import Labeller

logger = logging.getLogger(__name__)

GUIDE = Path("spec/operations-guide-ko.md")
JUDGED = Path(__file__).resolve().parents[1] / "data" / "naver_judged_2025.csv"
SECOND_READING = JUDGED.with_name("naver_judged_2025_second.csv")  # batches 7 and 8, read again
GUIDE_TITLE = "툴젠, 유전자교정 CAR-T 세포치료제 호주 이어 중국에 기술이전"
GUIDE_GOLD = {"툴젠": ["유전자 치료제/분석"]}
# GPT's free-form categories that name a Naver theme by another word.
CATEGORY_SYNONYMS = {
    "인공지능": ("AI",), "ai": ("AI", "인공지능"), "자동차": ("자동차 대표주", "전기차"), "조선업": ("조선",),
    "항공": ("항공",), "2차전지": ("2차전지",), "배터리": ("2차전지",), "금융": ("은행", "증권", "보험", "지주사"),
    "반도체": ("반도체",), "메모리": ("반도체", "HBM"), "d램": ("반도체", "HBM"), "로봇": ("로봇",),
    "방산": ("방위산업",), "원전": ("원자력", "원전"), "전력": ("전력",), "바이오헬스": ("바이오", "제약"),
    "석유화학": ("석유화학",), "it/과학": ("IT",), "정보기술": ("IT",), "클라우드 서비스": ("클라우드",),
    "게임": ("게임",), "인터넷": ("인터넷", "플랫폼"), "플랫폼": ("플랫폼", "인터넷"),
}


@dataclass
class Doc:
    id: str
    title: str
    body: str
    gold: dict[str, list[str]]  # stock -> gold themes (empty list: theme not judged)
    second: dict[str, list[str]] | None = None  # a second reader's labels, where there are any


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    theme_ok: int = 0
    theme_judged: int = 0
    errors: list = field(default_factory=list)

    def add(self, doc: Doc, predicted: dict[str, str]) -> None:
        for stock, theme in predicted.items():
            if stock in doc.gold:
                self.tp += 1
                if doc.gold[stock]:
                    self.theme_judged += 1
                    self.theme_ok += theme in doc.gold[stock]
            else:
                self.fp += 1
        self.fn += sum(s not in predicted for s in doc.gold)
        wrong = {s: t for s, t in predicted.items() if s not in doc.gold or (doc.gold[s] and t not in doc.gold[s])}
        missed = [s for s in doc.gold if s not in predicted]
        if wrong or missed:
            self.errors.append({"id": doc.id, "wrong": wrong, "missed": missed})

    def result(self) -> dict:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return {"precision": round(p, 3), "recall": round(r, 3),
                "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
                "theme_accuracy": round(self.theme_ok / self.theme_judged, 3) if self.theme_judged else None,
                "predicted": self.tp + self.fp, "gold": self.tp + self.fn}


# -- dev sets ---------------------------------------------------------------------------------------

def naver_dev(data_dir: Path, matcher: TfidfMatcher, limit: int | None = None) -> list[Doc]:
    labeller = Labeller(matcher)
    docs = []
    for a in naver_articles(data_dir, "dev", limit):
        labels = labeller.label(a.title, a.body)
        docs.append(Doc(a.id, a.title, a.body, dict(labels.gold_themes)))
    return docs


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def category_matches(category: str, theme: str, themes: ThemeList) -> bool:
    """A GPT category names ``theme`` when one contains the other (spaces and case ignored), directly
    or through ``CATEGORY_SYNONYMS``, comparing with the theme name and its keywords."""
    cat = _norm(category)
    words = [cat] + [_norm(w) for w in CATEGORY_SYNONYMS.get(cat, ())]
    names = {_norm(theme)} | {_norm(k) for k in themes.keywords.get(theme, ()) if len(_norm(k)) >= 2}
    return any(len(w) >= 2 and (w in n or (n in w and len(n) >= 2)) for w in words for n in names)


def nate_docs(data_dir: Path, themes: ThemeList) -> list[Doc]:
    stock_of = {alias: stock for stock, names in themes.aliases.items() for alias in names}
    docs = []
    for row in read_csv(data_dir / NATE):
        text = classify_source(row["title"], row["body"])
        categories = [c for c in row["categories_llm"].split("|") if c.strip()]
        gold = {}
        for company in row["companies_llm"].split("|"):
            stock = stock_of.get(company.strip())
            if not stock or not any(n in text for n in themes.aliases[stock]):
                continue  # unlisted, or named by GPT from its own knowledge, not from the text
            if needs_evidence(stock) and stock not in stock_finder_for(themes).find(text):
                continue  # a group or an ordinary word, not the listed company
            matched = [t for t in themes.themes_of[stock] if any(category_matches(c, t, themes) for c in categories)]
            if matched:
                gold[stock] = matched
        docs.append(Doc(row["id"], row["title"], row["body"], gold))
    return docs


def judged_docs(data_dir: Path, labels: Path = JUDGED, limit: int | None = None,
                second: Path = SECOND_READING) -> dict[str, list[Doc]]:
    """naver-judged-1 to -10: naver-dev articles labelled by reading, in batches
    (``data/naver_judged_2025.csv``: a row per (article, stock) with its fitting member themes; a row
    with no stock for an article that ties none). A stock the reader found discussed but with no
    fitting member theme is not gold. ``second``: another reader's labels of some batches, in the
    same form, scored as the system ``second_reader`` (how far two readers agree). ``limit``: the
    first articles of each batch only."""
    if not labels.is_file():
        logger.warning("no %s: the naver-judged sets are not scored", labels)
        return {}
    gold, again = read_labels(labels), read_labels(second) if second.is_file() else {}
    articles = {a.id: a for a in naver_articles(data_dir, "dev")}
    sets: dict[str, list[Doc]] = {}
    for (batch, i), stocks in gold.items():
        if i in articles:
            doc = Doc(i, articles[i].title, articles[i].body, stocks, again.get((batch, i)))
            sets.setdefault(f"naver-judged-{batch}", []).append(doc)
    return {name: docs[:limit] if limit else docs for name, docs in sets.items()}


_MATCHERS: dict[int, TfidfMatcher] = {}


def stock_finder_for(themes: ThemeList):
    matcher = _MATCHERS.setdefault(id(themes), TfidfMatcher(themes))
    return stock_finder(matcher)


def guide_docs(spec_dir: Path) -> list[Doc]:
    path = spec_dir / GUIDE.name
    if not path.is_file():
        return []
    body = path.read_text(encoding="utf-8").split("t5_inference body : ", 1)[1].split("\n", 1)[0].strip()
    return [Doc("guide-toolgen", GUIDE_TITLE, body, GUIDE_GOLD)]


# -- systems ----------------------------------------------------------------------------------------

def baseline(doc: Doc, matcher: TfidfMatcher) -> dict[str, str]:
    return {m.stock: m.theme for m in matcher.match(classify_source(doc.title, doc.body))}


def all_candidates(doc: Doc, matcher: TfidfMatcher) -> dict[str, str]:
    """Every offered stock with its best-evidenced theme: what the model chooses from."""
    out: dict[str, str] = {}
    for theme, stock in parse_pairs(" ; ".join(classify_outputs(article_text(doc.title, doc.body), matcher))):
        out.setdefault(stock, theme)
    return out


def classification(gen: T5Generator, matcher: TfidfMatcher, beams: int) -> ClassificationService:
    """The theme_classification server's own code, without HTTP."""
    return ClassificationService(gen, ThemeState(matcher.themes, matcher, "default"), Path("."), beams)


def by_stock(pairs: list[dict]) -> dict[str, str]:
    """Stock -> theme of an endpoint's pairs (a stock's first pair wins)."""
    return {p["stock"]: p["theme"] for p in reversed(pairs)}


def inference(doc: Doc, gen: T5Generator, matcher: TfidfMatcher, beams: int, hints: tuple,
              min_rel_score: float = DEFAULT_MIN_REL_SCORE, rel: T5Generator | None = None) -> dict[str, str]:
    """``rel``: the relevance model, when not ``gen`` (the server's ``REL_MODEL_DIR``); ``hints``:
    ``shared.related.relevance_hints(rel, matcher)``, what the server gives it; ``min_rel_score``: the
    server's ``MIN_REL_SCORE``."""
    sentences = [doc.title] + split_sentences(doc.body)
    text = article_text(doc.title, doc.body)
    hinted, related = hints
    gens = generate_sentences(gen, matcher, doc.title, doc.body, sentences, beams, batch_size=len(sentences))
    with_pairs = [(s, g, parse_pairs(g.text)) for s, g in zip(sentences, gens) if g and parse_pairs(g.text)]
    if not with_pairs:
        return {}
    rels = relate(rel or gen, [relevance_source(doc.title, s, hinted, related, text) for s, _, _ in with_pairs],
                  len(with_pairs), min_rel_score)
    best: dict[str, tuple[float, str]] = {}
    for (sentence, g, pairs), (is_related, rel_score) in zip(with_pairs, rels):
        if not is_related:
            continue
        for theme, stock in pairs:
            score = g.score + rel_score
            if stock not in best or score > best[stock][0]:
                best[stock] = (score, theme)
    return {stock: theme for stock, (_, theme) in best.items()}


def relevance_accuracy(gen: T5Generator, pairs: list[tuple[str, str, str]], hints: tuple, batch: int = 64) -> dict:
    trie = gen.trie(RELEVANCE_OUTPUTS, chain=False)
    hinted, related = hints
    correct = 0
    for i in range(0, len(pairs), batch):
        chunk = pairs[i:i + batch]
        sources = [relevance_source(a, b, hinted, related) for a, b, _ in chunk]
        outs = gen.generate("relevance", sources, [trie] * len(chunk), 1)
        correct += sum(o.text == label for o, (_, _, label) in zip(outs, chunk))
    return {"accuracy": round(correct / len(pairs), 3) if pairs else None, "pairs": len(pairs)}


# -- driver -----------------------------------------------------------------------------------------

def dev_sets(data_dir: Path, matcher: TfidfMatcher, limit: int | None = None) -> dict[str, list[Doc]]:
    sets = {"naver-dev": naver_dev(data_dir, matcher, limit), "nate": nate_docs(data_dir, matcher.themes)}
    sets.update(judged_docs(data_dir, limit=limit))
    guide = guide_docs(data_dir.parent / "spec")
    if guide:
        sets["guide"] = guide
    return sets


def load_model(model_dir: Path, backend: str) -> T5Generator:
    """The model as a server would run it on this machine's CPU, unbatched (``ctranslate2``: its
    converted copy)."""
    if Backend(backend) is Backend.CTRANSLATE2:
        from shared.ct2 import CT2Generator, ct2_dir_for  # ctranslate2 is optional
        return CT2Generator.load(ct2_dir_for(model_dir), "cpu")
    return T5Generator.load(model_dir, "cpu")


def evaluate_model(model_dir: Path | None, data_dir: Path, themes_path: Path, limit: int | None = None,
                   beams: int = 4, relevance_limit: int = 2000, errors_out: Path | None = None,
                   backend: str = Backend.TRANSFORMERS.value, min_rel_score: float = DEFAULT_MIN_REL_SCORE,
                   rel_model_dir: Path | None = None) -> dict:
    """Scores of every system on every dev set (and relevance accuracies when a model is given).
    ``rel_model_dir``: a relevance model apart from ``model_dir`` (the server's ``REL_MODEL_DIR``)."""
    themes = ThemeList.load(themes_path)
    matcher = TfidfMatcher(themes)
    gen = load_model(model_dir, backend) if model_dir else None
    service = classification(gen, matcher, beams) if gen else None
    rel = load_model(rel_model_dir, backend) if rel_model_dir and gen else gen
    tasks = set(gen.meta.get("tasks", {})) if gen else set()
    rel_tasks = set(rel.meta.get("tasks", {})) if rel else set()
    hints = relevance_hints(rel, matcher) if rel else (None, None)
    labeller = Labeller(matcher)
    results: dict = {}
    errors: dict = {}
    for name, docs in dev_sets(data_dir, matcher, limit).items():
        scores = {"baseline": Score(), "candidates": Score(), "rules": Score()}
        if gen and "classify" in tasks:
            scores.update(t5=Score(), theme_inference=Score())
        if gen and "generate" in tasks and "relevance" in rel_tasks:
            scores["inference"] = Score()
        started = time.perf_counter()
        for doc in docs:
            scores["baseline"].add(doc, baseline(doc, matcher))
            scores["candidates"].add(doc, all_candidates(doc, matcher))
            scores["rules"].add(doc, {s: t for t, s in labeller.label(doc.title, doc.body).pairs})
            if "t5" in scores:  # /theme_inference answers /t5_inference's pairs too
                out = service.theme_inference(doc.title, doc.body)
                scores["t5"].add(doc, by_stock(out["t5_result"]))
                scores["theme_inference"].add(doc, by_stock(out["result"]))
            if "inference" in scores:
                scores["inference"].add(doc, inference(doc, gen, matcher, beams, hints, min_rel_score, rel))
            if doc.second is not None:  # of its themes, one the first reader gave too, if any
                second = {s: next((t for t in ts if t in doc.gold.get(s, ())), ts[0]) for s, ts in doc.second.items()}
                scores.setdefault("second_reader", Score()).add(doc, second)
        results[name] = {"articles": len(docs), **{k: s.result() for k, s in scores.items()},
                         "seconds": round(time.perf_counter() - started, 1)}
        errors[name] = {k: s.errors for k, s in scores.items()}
        logger.info("%s: %s", name, results[name])
    if rel and "relevance" in rel_tasks:
        sts = korsts_pairs(data_dir, ("sts-dev.tsv", "sts-test.tsv"))[:relevance_limit]
        art = relevance_pairs(naver_articles(data_dir, "dev", limit), 3)[:relevance_limit]
        results["relevance"] = {"korsts": relevance_accuracy(rel, sts, hints),
                                "naver-dev": relevance_accuracy(rel, art, hints)}
        logger.info("relevance: %s", results["relevance"])
    if errors_out:
        errors_out.write_text(json.dumps(errors, ensure_ascii=False, indent=1), encoding="utf-8")
    return results


def markdown_table(results: dict) -> str:
    lines = ["| dev set | articles | system | stock precision | stock recall | theme accuracy |",
             "|---|---|---|---|---|---|"]
    for name, res in results.items():
        if name == "relevance":
            continue
        for system in ("baseline", "candidates", "rules", "t5", "theme_inference", "inference", "second_reader"):
            if system in res:
                r = res[system]
                acc = "–" if r["theme_accuracy"] is None else f"{r['theme_accuracy']:.3f}"
                lines.append(f"| {name} | {res['articles']} | {system} | {r['precision']:.3f} | {r['recall']:.3f} | {acc} |")
    if "relevance" in results:
        lines += ["", "| relevance pairs | pairs | accuracy |", "|---|---|---|"]
        for name, r in results["relevance"].items():
            lines.append(f"| {name} | {r['pairs']} | {r['accuracy']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="T5 model directory; omit to score the baseline only")
    parser.add_argument("--rel_model", type=Path,
                        help="relevance model directory, when not --model (the server's REL_MODEL_DIR)")
    parser.add_argument("--data_dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--themes", type=Path, default=Path("data/themes.csv"))
    parser.add_argument("--limit", type=int,
                        help="score only this many naver-dev articles (and of each naver-judged batch)")
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--errors", type=Path, help="write each system's wrong and missed stocks here")
    parser.add_argument("--backend", choices=[b.value for b in Backend], default=Backend.TRANSFORMERS.value,
                        help="ctranslate2 reads the converted copy <model>-ct2 (`make ct2`)")
    parser.add_argument("--min_rel_score", type=float, default=DEFAULT_MIN_REL_SCORE,
                        help="/inference keeps a sentence whose related score is this or more (the server's "
                             "MIN_REL_SCORE); 0: the relevance model's answer alone")
    args = parser.parse_args(argv)
    if args.rel_model and not args.model:
        parser.error("--rel_model: give --model too (the generator it filters)")
    if args.min_rel_score > 0:
        parser.error("--min_rel_score: a log-probability, 0 or below (0: the relevance model's answers alone)")
    for path in (args.out, args.errors):  # fail now, not after minutes of scoring
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
    results = evaluate_model(args.model, args.data_dir, args.themes, args.limit, args.beams, errors_out=args.errors,
                             backend=args.backend, min_rel_score=args.min_rel_score, rel_model_dir=args.rel_model)
    if args.out:
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(markdown_table(results))


if __name__ == "__main__":
    main()
