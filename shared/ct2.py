"""The CTranslate2 backend: the same T5, converted once at build time, run by CTranslate2.

Convert (``make ct2`` runs this)::

    python -m shared.ct2 models/theme-t5 models/theme-t5-ct2

The converted directory holds CTranslate2's ``model.bin`` and vocabulary plus copies of the tokenizer
and ``theme_model.json``, so it loads on its own. Weights are stored as converted (float32 unless
``--quantization``); the compute type is chosen at load: int8 on CPU, float16 on CUDA.

Scores are the same kind as the transformers backend's: the sum of the output's token log-probabilities,
end token included, divided by its length (beam search with length penalty 1).

Constrained decoding. CTranslate2 has no ``prefix_allowed_tokens_fn``, so for an input with an
``OutputTrie``:

1. When the trie allows at most ``score_all`` (2) whole outputs, chains counted (relevance's
   ``related``/``unrelated``, a lone output), each is scored by forced decoding (``score_batch``) and the
   best normalised log-probability wins: exact, and cheaper than a search.
2. Otherwise: beam search without constraints, ``num_beams`` hypotheses, best first; the first one the
   trie accepts wins, with its beam score. On 161 inputs of the three tasks this chose what transformers'
   constrained beam search chose 159 times (docs/performance.md). Scoring every single output as well
   was tried: 3.7x slower on 380-token articles, and it parted from transformers more often.
3. If no hypothesis is accepted (a model that has not learned the task), the trie's single outputs and
   the accepted beginnings of the hypotheses are scored by forced decoding and the best wins; chains
   longer than those beginnings are not searched then.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoTokenizer

from shared.related import RELATED_FILE
from shared.t5 import META_FILE, Generation, OutputTrie, T5Generator

logger = logging.getLogger(__name__)

CONVERSION_FILE = "ct2_conversion.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spiece.model",
                   "generation_config.json", META_FILE, RELATED_FILE)  # copied beside the converted weights
COMPUTE_TYPES = {"cpu": "int8", "cuda": "float16"}  # per device, when CT2_COMPUTE_TYPE is "default"
SCORE_ALL = 2  # tries with at most this many whole outputs are scored exhaustively (relevance, a lone output)


def is_ct2_dir(path: Path) -> bool:
    return (path / "model.bin").is_file()


def ct2_dir_for(path: str | Path) -> Path:
    """Where the converted copy of a transformers model directory lives: ``<dir>-ct2`` beside it."""
    path = Path(path)
    return path if is_ct2_dir(path) else path.with_name(path.name + "-ct2")


def convert(source: str | Path, target: str | Path, quantization: str | None = None) -> Path:
    """Convert a transformers T5 directory for CTranslate2; replaces ``target`` whole, atomically."""
    import ctranslate2

    source, target = Path(source), Path(target)
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"no T5 model at {source} (config.json missing)")
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        converter = ctranslate2.converters.TransformersConverter(str(source))
        converter.convert(str(work / "model"), quantization=quantization, force=True)
        for name in TOKENIZER_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, work / "model" / name)
        record = {"source": str(source.resolve()), "quantization": quantization or "float32",
                  "ctranslate2": ctranslate2.__version__, "converted_at": time.time()}
        (work / "model" / CONVERSION_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        (work / "model").rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("converted %s to %s (%s) in %.1fs", source, target, quantization or "float32",
                time.perf_counter() - started)
    return target


def _warn_if_stale(path: Path) -> None:
    record_file = path / CONVERSION_FILE
    if not record_file.is_file():
        return
    record = json.loads(record_file.read_text(encoding="utf-8"))
    source = Path(record["source"]) if record.get("source") else None
    files = [*source.glob("*.safetensors"), *source.glob(META_FILE), *source.glob(RELATED_FILE)] if source else []
    if any(f.stat().st_mtime > record["converted_at"] for f in files):
        logger.warning("%s is older than its source %s: run `make ct2` to convert it again", path, record["source"])


@dataclass
class _Plan:
    """How one input is answered: by scoring ``candidates``, or by beam search (``candidates`` None)."""

    tokens: list[str]
    trie: OutputTrie | None
    candidates: list[list[int]] | None = None
    answer: Generation | None = None


class CT2Generator(T5Generator):
    """A converted T5 run by ``ctranslate2.Translator``; same interface as ``T5Generator``."""

    def __init__(self, translator, tokenizer, device: str, meta: dict, path: Path, compute_type: str,
                 score_all: int = SCORE_ALL) -> None:
        super().__init__(translator, tokenizer, device, meta, path)
        self.translator, self.compute_type, self.score_all = translator, compute_type, score_all

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", threads: int = 0,
             compute_type: str = "default", replicas: int = 1) -> "CT2Generator":
        """``threads`` per call (0: one per core); ``replicas`` calls may run at once (one per batch worker)."""
        import ctranslate2

        path = Path(path)
        if not is_ct2_dir(path):
            raise FileNotFoundError(f"no CTranslate2 model at {path} (model.bin missing): convert the model with "
                                    f"`python -m shared.ct2 <model dir> {path}` (`make ct2` for the default one)")
        device = str(device).lower()
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute = COMPUTE_TYPES[device] if compute_type in ("", "default") else compute_type
        started = time.perf_counter()
        threads = threads or os.cpu_count() or 1
        translator = ctranslate2.Translator(str(path), device=device, compute_type=compute, inter_threads=replicas,
                                            intra_threads=threads)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        meta_file = path / META_FILE
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        _warn_if_stale(path)
        logger.info("loaded CTranslate2 T5 %s on %s (%s, %d x %d threads) in %.1fs", path, device, compute,
                    replicas, threads, time.perf_counter() - started)
        return cls(translator, tokenizer, device, meta, path, compute)

    def generate(self, task: str, sources: list[str], allowed: list[OutputTrie | None] | None = None,
                 num_beams: int = 4) -> list[Generation]:
        """The best output for each source, with its length-normalised log-probability."""
        if not sources:
            return []
        allowed = allowed or [None] * len(sources)
        plans = [_Plan(self.tokenizer.convert_ids_to_tokens(ids), trie)
                 for ids, trie in zip(self.source_ids(task, sources), allowed)]
        for plan in plans:
            if plan.trie is not None:
                found = plan.trie.enumerate(self.score_all)
                plan.candidates = found if found != [] else [[]]  # an empty trie allows only the end
        self._beam_search([p for p in plans if p.candidates is None], task, num_beams)
        self._score([p for p in plans if p.answer is None])
        return [p.answer for p in plans]  # type: ignore[misc]

    def _beam_search(self, plans: list[_Plan], task: str, num_beams: int) -> None:
        if not plans:
            return
        constrained = any(p.trie is not None for p in plans)
        limit = self.answer_limit(task, [p.trie for p in plans]) + 2  # + the start and end tokens
        results = self.translator.translate_batch(
            [p.tokens for p in plans], beam_size=num_beams, num_hypotheses=num_beams if constrained else 1,
            length_penalty=1.0, max_decoding_length=limit, return_scores=True, max_input_length=0,
        )
        for plan, result in zip(plans, results):
            hyps = [self.tokenizer.convert_tokens_to_ids(h) for h in result.hypotheses]
            if plan.trie is None:
                plan.answer = Generation(self.decode(hyps[0]), float(result.scores[0]))
                continue
            accepted = next(((ids, s) for ids, s in zip(hyps, result.scores) if plan.trie.accepts(ids)), None)
            if accepted:  # the best allowed hypothesis (they come best first)
                plan.answer = Generation(self.decode(accepted[0]), float(accepted[1]))
            else:  # nothing allowed: score the single outputs and the allowed beginnings exactly
                prefixes = [p for p in (plan.trie.complete_prefix(ids) for ids in hyps) if p]
                plan.candidates = plan.trie.sequences + prefixes

    def _score(self, plans: list[_Plan]) -> None:
        pairs = [(plan, cand) for plan in plans for cand in dict.fromkeys(map(tuple, plan.candidates))]
        if not pairs:
            return
        scored = self.translator.score_batch([p.tokens for p, _ in pairs],
                                             [self.tokenizer.convert_ids_to_tokens(list(c)) for _, c in pairs],
                                             max_input_length=0, max_batch_size=64)
        for (plan, cand), result in zip(pairs, scored):
            score = sum(result.log_probs) / len(result.log_probs)  # end token included, as in beam search
            if plan.answer is None or score > plan.answer.score:
                plan.answer = Generation(self.decode(list(cand)), float(score))

    def health(self) -> dict:
        """A one-token decode on the model's device, timed."""
        started = time.perf_counter()
        self.translator.translate_batch([self.tokenizer.convert_ids_to_tokens(self.encode("건강").input_ids)],
                                        beam_size=1, max_decoding_length=1)
        return {"name": self.name, "device": self.device, "dtype": self.compute_type, "backend": "ctranslate2",
                "forward_ms": round((time.perf_counter() - started) * 1000, 1)}


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.ct2 SOURCE [TARGET] [--quantization int8]``"""
    parser = argparse.ArgumentParser(prog="python -m shared.ct2", description=main.__doc__)
    parser.add_argument("source", type=Path, help="a transformers T5 directory (models/theme-t5)")
    parser.add_argument("target", type=Path, nargs="?", help="default: <source>-ct2 beside it")
    parser.add_argument("--quantization", default=None,
                        help="store weights as int8, float16 ... (default float32; the compute type is chosen at load)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        convert(args.source, args.target or ct2_dir_for(args.source), args.quantization)
    except Exception:
        logger.exception("conversion failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
