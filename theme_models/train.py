"""``theme-train``: train the suite's T5 on one or more of its tasks (classify, generate, relevance).

From a user's pretrained T5 directory (``--model_name_or_path``) or, without one, from a small T5
initialised from a config, with a Unigram tokenizer (byte fallback) trained on the corpus. Training
data is built from ``../shared/data`` by ``theme_models.data``. The output directory gets the model in
Hugging Face format (safetensors), its tokenizer and ``theme_model.json``: per-task prefixes and max
lengths (read by the servers), the run's arguments, data summary, timing and dev metrics.

Resumable: a checkpoint is written to ``<output_dir>/checkpoint/`` every ``--save_minutes``; running the
same command again continues from it (``--overwrite_output_dir`` starts afresh).

    theme-train --output_dir /tmp/theme-t5 --tasks classify,generate,relevance --max_minutes 55
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, HfArgumentParser, T5Config, T5ForConditionalGeneration

from shared.candidates import RELATED, UNRELATED
from shared.pairs import NONE, PAIR_SEP
from shared.t5 import META_FILE
from shared.tfidf import TfidfMatcher
from shared.themes import ThemeList
from theme_models.card import write_card
from theme_models.data import TASKS, Example, build_examples, naver_articles, read_csv, read_labels
from theme_models.related_words import add_to_model
from theme_models.tokenizer import train_tokenizer

logger = logging.getLogger(__name__)

# How the servers should decode this model (read by shared.t5.T5Generator from theme_model.json):
# renormalise over the allowed answers, so a forced stock name costs nothing, and let beam search run
# on past the first finished answers while a longer one can still win (HF's ``early_stopping=False``),
# so a chain of several pairs is not cut short by shorter ones. Measured on 120 naver-dev articles:
# ``True`` found 39% of the stocks, ``False`` 73% at the same precision; ``"never"`` found the same
# as ``False`` at 40x its time. Classify answers stop at 32 tokens: the search would otherwise extend
# chains until the trie is exhausted (same stocks and themes with 128, 64, 40 and 32 on 190 dev
# articles, one stock fewer in 398 with 32; docs/performance.md).
DECODING = {"renormalize": True, "early_stopping": False, "max_new_tokens": {"classify": 32}}
PREFIXES = {"classify": "classify: ", "generate": "generate: ", "relevance": "relevance: "}


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(default=None, metadata={
        "help": "A local pretrained T5 directory (config, weights, tokenizer). Omit to train a small T5 from scratch."})
    tokenizer_name: str | None = field(default=None, metadata={
        "help": "A local tokenizer directory to reuse when training from scratch (else one is trained)."})
    vocab_size: int = field(default=8000, metadata={"help": "Tokenizer vocabulary when training from scratch."})
    d_model: int = 192
    d_ff: int = 768
    d_kv: int = 32
    num_heads: int = 6
    num_layers: int = 3
    num_decoder_layers: int = 2
    dropout_rate: float = 0.1
    save_dtype: str = field(default="float16", metadata={"help": "float16 or float32: dtype of the saved weights."})

    def __post_init__(self) -> None:
        if self.model_name_or_path and not (Path(self.model_name_or_path) / "config.json").is_file():
            raise ValueError(f"--model_name_or_path {self.model_name_or_path}: no config.json there (local dirs only)")
        if self.tokenizer_name and not (Path(self.tokenizer_name) / "tokenizer.json").is_file():
            raise ValueError(f"--tokenizer_name {self.tokenizer_name}: no tokenizer.json there")
        for name in ("vocab_size", "d_model", "d_ff", "d_kv", "num_heads", "num_layers", "num_decoder_layers"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive")
        if self.vocab_size < 300:
            raise ValueError("--vocab_size must leave room beyond the 256 byte pieces and specials (>= 300)")
        if not 0 <= self.dropout_rate < 1:
            raise ValueError("--dropout_rate must be in [0, 1)")
        if self.save_dtype not in ("float16", "float32"):
            raise ValueError("--save_dtype must be float16 or float32")


def _names_list(text: str) -> tuple[str, ...]:
    """``"classify, generate"`` -> ``("classify", "generate")``."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


@dataclass
class DataArguments:
    data_dir: Path = field(default=Path("../shared/data"), metadata={"help": "The shared data folder."})
    themes: Path = field(default=Path("data/themes.csv"), metadata={"help": "Theme list CSV."})
    tasks: str = field(default="classify,generate,relevance", metadata={"help": "Comma-separated tasks to train."})
    max_articles: int | None = field(default=None, metadata={"help": "Use only this many training articles."})
    classify_max_source_length: int = 384
    generate_max_source_length: int = 128
    relevance_max_source_length: int = 128
    classify_max_target_length: int = 128
    generate_max_target_length: int = 64
    relevance_max_target_length: int = 4
    relevance_per_article: int = field(default=1, metadata={"help": "Related (and as many unrelated) sentences per title."})
    korsts: bool = field(default=True, metadata={"help": "Add KorSTS pairs to the relevance data."})
    reader_labels: Path | None = field(default=None, metadata={
        "help": "A reader's labels of training articles (batch,id,stock,themes,note CSV, e.g. "
                "data/naver_reader_train_2025.csv): they replace the rules' labels of those articles."})
    reader_repeat: int = field(default=4, metadata={
        "help": "How often the reader-labelled articles' examples of --reader_tasks are seen per epoch."})
    reader_tasks: str = field(default="classify,generate", metadata={
        "help": "Comma-separated tasks whose labels the reader's replace (the others keep the rules')."})

    def __post_init__(self) -> None:
        self.data_dir, self.themes = Path(self.data_dir), Path(self.themes)
        self.reader_labels = Path(self.reader_labels) if self.reader_labels else None
        if self.reader_labels and not self.reader_labels.is_file():
            raise ValueError(f"--reader_labels {self.reader_labels}: no such file")
        if self.reader_repeat <= 0:
            raise ValueError("--reader_repeat must be positive")
        if not self.reader_task_list or not set(self.reader_task_list) <= {"classify", "generate"}:
            raise ValueError(f"--reader_tasks: expected some of classify, generate, got {self.reader_tasks!r}")
        unknown = set(self.task_list) - set(TASKS)
        if unknown or not self.task_list:
            raise ValueError(f"--tasks: expected some of {', '.join(TASKS)}, got {self.tasks!r}")
        if not (self.data_dir / "news_naver_finance_2025").is_dir():
            raise ValueError(f"--data_dir {self.data_dir}: news_naver_finance_2025/ not found")
        if not self.themes.is_file():
            raise ValueError(f"--themes {self.themes}: no such file")
        for task in TASKS:
            for kind in ("source", "target"):
                if getattr(self, f"{task}_max_{kind}_length") <= 0:
                    raise ValueError(f"--{task}_max_{kind}_length must be positive")
        if self.max_articles is not None and self.max_articles <= 0:
            raise ValueError("--max_articles must be positive")

    @property
    def task_list(self) -> tuple[str, ...]:
        return _names_list(self.tasks)

    @property
    def reader_task_list(self) -> tuple[str, ...]:
        return _names_list(self.reader_tasks)

    def task_spec(self, task: str) -> dict:
        return {"prefix": PREFIXES[task], "max_source_length": getattr(self, f"{task}_max_source_length"),
                "max_target_length": getattr(self, f"{task}_max_target_length")}


@dataclass
class TrainArguments:
    output_dir: Path = field(default=Path("/tmp/theme-t5-run"), metadata={
        "help": "Where the run writes its checkpoint and final model."})
    export_dir: Path | None = field(default=None, metadata={
        "help": "Also copy the final model here, without the checkpoint (e.g. models/theme-t5)."})
    max_steps: int = field(default=6000, metadata={"help": "Optimizer steps (the LR schedule spans them)."})
    max_minutes: float = field(default=180.0, metadata={"help": "Stop (and save) after this many minutes of training."})
    learning_rate: float = 2e-3
    warmup_steps: int = 200
    weight_decay: float = 0.01
    batch_tokens: int = field(default=2048, metadata={"help": "Padded source tokens per batch."})
    max_batch_size: int = 64
    save_minutes: float = field(default=5.0, metadata={"help": "Checkpoint interval."})
    seed: int = 42
    threads: int = field(default=0, metadata={"help": "torch threads; 0 leaves torch's default."})
    overwrite_output_dir: bool = False
    do_eval: bool = field(default=True, metadata={"help": "Score the dev sets at the end (theme-eval)."})
    eval_limit: int | None = field(default=None, metadata={"help": "Score only this many dev articles."})

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        self.export_dir = Path(self.export_dir) if self.export_dir else None
        if self.max_steps <= 0 or self.max_minutes <= 0:
            raise ValueError("--max_steps and --max_minutes must be positive")
        if self.learning_rate <= 0 or self.batch_tokens < 64 or self.max_batch_size <= 0:
            raise ValueError("--learning_rate, --batch_tokens (>= 64) and --max_batch_size must be positive")
        if self.warmup_steps < 0 or self.save_minutes <= 0 or self.threads < 0:
            raise ValueError("--warmup_steps and --threads must be >= 0, --save_minutes positive")


# -- data -------------------------------------------------------------------------------------------

def corpus_texts(data: DataArguments, themes: ThemeList, limit: int | None) -> list[str]:
    """What the from-scratch tokenizer learns from: training articles, theme and stock names, KorSTS."""
    texts = [f"{a.title}\n{a.body}" for a in naver_articles(data.data_dir, "train", limit)]
    texts += [f"{t} = {s}" for s in themes.stocks for t in themes.themes_of[s]]
    texts += [" ".join(sorted(themes.aliases[s])) for s in themes.stocks]
    extra = None if limit is None else 5 * limit  # a small run learns from a small corpus
    path = data.data_dir / "korsts" / "sts-train.tsv"
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()[1:extra]
        texts += [" ".join(line.split("\t")[-2:]) for line in lines]
    overview = data.data_dir / "naver_themes_2026" / "company_overview.csv"
    if overview.is_file():
        texts += [r["overview"] for r in read_csv(overview)[:extra]]
    return texts + list(PREFIXES.values()) + [PAIR_SEP, "없음 related unrelated"]


def encode(tokenizer, examples: list[Example], data: DataArguments) -> list[dict]:
    encoded = []
    for task in data.task_list:
        chosen = [e for e in examples if e.task == task]
        if not chosen:
            continue
        spec = data.task_spec(task)
        src = tokenizer([spec["prefix"] + e.source for e in chosen], max_length=spec["max_source_length"], truncation=True)
        tgt = tokenizer([e.target for e in chosen], max_length=spec["max_target_length"], truncation=True)
        encoded += [{"task": task, "input_ids": s, "labels": t} for s, t in zip(src.input_ids, tgt.input_ids)]
    return encoded


def make_batches(encoded: list[dict], args: TrainArguments, seed: int) -> list[list[int]]:
    """Batches of similar source length within each task, at most ``batch_tokens`` padded tokens."""
    rng = random.Random(seed)
    batches = []
    for task in {e["task"] for e in encoded}:
        idx = [i for i, e in enumerate(encoded) if e["task"] == task]
        rng.shuffle(idx)
        chunk = 2048
        for c in range(0, len(idx), chunk):
            part = sorted(idx[c:c + chunk], key=lambda i: len(encoded[i]["input_ids"]))
            batch: list[int] = []
            for i in part:
                longest = max([len(encoded[j]["input_ids"]) for j in batch] + [len(encoded[i]["input_ids"])])
                if batch and (longest * (len(batch) + 1) > args.batch_tokens or len(batch) >= args.max_batch_size):
                    batches.append(batch)
                    batch = []
                batch.append(i)
            if batch:
                batches.append(batch)
    rng.shuffle(batches)
    return batches


def collate(encoded: list[dict], batch: list[int], pad_id: int) -> dict[str, torch.Tensor]:
    src = [encoded[i]["input_ids"] for i in batch]
    tgt = [encoded[i]["labels"] for i in batch]
    s_len, t_len = max(map(len, src)), max(map(len, tgt))
    input_ids = torch.tensor([s + [pad_id] * (s_len - len(s)) for s in src])
    labels = torch.tensor([t + [-100] * (t_len - len(t)) for t in tgt])
    return {"input_ids": input_ids, "attention_mask": (input_ids != pad_id).long(), "labels": labels}


# -- model ------------------------------------------------------------------------------------------

def build_model(model_args: ModelArguments, data: DataArguments, themes: ThemeList):
    if model_args.model_name_or_path:
        path = model_args.model_name_or_path
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
        return model, tokenizer
    if model_args.tokenizer_name:
        tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name, local_files_only=True)
    else:
        logger.info("training a tokenizer (vocab %d) on the corpus", model_args.vocab_size)
        words = [n for s in themes.stocks for n in sorted(themes.aliases[s])]
        words += ["=", PAIR_SEP.strip(), NONE, RELATED, UNRELATED]
        tokenizer = train_tokenizer(corpus_texts(data, themes, data.max_articles), model_args.vocab_size, words)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=model_args.d_model, d_ff=model_args.d_ff, d_kv=model_args.d_kv,
        num_heads=model_args.num_heads, num_layers=model_args.num_layers,
        num_decoder_layers=model_args.num_decoder_layers, dropout_rate=model_args.dropout_rate,
        feed_forward_proj="relu", tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    return T5ForConditionalGeneration(config), tokenizer


def check_trie_tokenization(tokenizer, targets: list[str]) -> None:
    """The constrained decoder encodes each pair on its own: training targets must encode the same."""
    sep = tokenizer(PAIR_SEP.strip(), add_special_tokens=False).input_ids
    for target in targets:
        whole = tokenizer(target, add_special_tokens=False).input_ids
        parts: list[int] = []
        for k, chunk in enumerate(target.split(PAIR_SEP)):
            parts += (sep if k else []) + tokenizer(chunk, add_special_tokens=False).input_ids
        if whole != parts:
            raise ValueError(f"tokenizer encodes {target!r} differently whole and in parts: "
                             "constrained decoding would not match training; use a space-splitting tokenizer")


# -- training ---------------------------------------------------------------------------------------

def lr_at(step: int, args: TrainArguments) -> float:
    if step < args.warmup_steps:
        return args.learning_rate * (step + 1) / args.warmup_steps
    progress = (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps)
    return args.learning_rate * max(0.05, 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def save_checkpoint(ckpt: Path, model, optimizer, state: dict) -> None:
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
                "rng": {"torch": torch.get_rng_state(), "python": random.getstate()}}, tmp / "trainer.pt")
    shutil.rmtree(ckpt, ignore_errors=True)
    os.replace(tmp, ckpt)


def train(model, tokenizer, encoded: list[dict], args: TrainArguments, command: str = "") -> dict:
    ckpt = args.output_dir / "checkpoint"
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    state = {"step": 0, "epoch": 0, "position": 0, "seconds": 0.0, "loss": None, "commands": []}
    if (ckpt / "trainer.pt").is_file():
        saved = torch.load(ckpt / "trainer.pt", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["state"]
        torch.set_rng_state(saved["rng"]["torch"])
        random.setstate(saved["rng"]["python"])
        logger.info("resuming from %s at step %d", ckpt, state["step"])
    state.setdefault("commands", []).append(command)
    model.train()
    started, last_save = time.perf_counter() - state["seconds"], time.perf_counter()
    batches = make_batches(encoded, args, args.seed + state["epoch"])
    bar = tqdm(total=args.max_steps, initial=state["step"], desc="train", dynamic_ncols=True, mininterval=5)
    ema = state["loss"]
    task_loss: dict[str, float] = {}
    while state["step"] < args.max_steps and time.perf_counter() - started < args.max_minutes * 60:
        if state["position"] >= len(batches):
            state["epoch"] += 1
            state["position"] = 0
            batches = make_batches(encoded, args, args.seed + state["epoch"])
        task = encoded[batches[state["position"]][0]]["task"]
        batch = collate(encoded, batches[state["position"]], tokenizer.pad_token_id)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(state["step"], args)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        state["step"] += 1
        state["position"] += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        task_loss[task] = loss.item() if task not in task_loss else 0.95 * task_loss[task] + 0.05 * loss.item()
        state["loss"] = ema
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.3f}", epoch=state["epoch"], refresh=False,
                        **{t[:3]: f"{v:.3f}" for t, v in sorted(task_loss.items())})
        if time.perf_counter() - last_save > args.save_minutes * 60:
            state["seconds"] = time.perf_counter() - started
            save_checkpoint(ckpt, model, optimizer, state)
            last_save = time.perf_counter()
    bar.close()
    state["seconds"] = time.perf_counter() - started
    save_checkpoint(ckpt, model, optimizer, state)
    return {"steps": state["step"], "commands": state["commands"],
            "epochs": state["epoch"] + state["position"] / max(1, len(batches)),
            "train_minutes": round(state["seconds"] / 60, 1), "final_loss": round(ema or 0.0, 4)}


def save_model(model, tokenizer, out: Path, meta: dict, save_dtype: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    to_save = model.to(torch.float16) if save_dtype == "float16" else model
    to_save.save_pretrained(out, safe_serialization=True)
    model.to(torch.float32)
    tokenizer.save_pretrained(out)
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainArguments))
    model_args, data_args, train_args = parser.parse_args_into_dataclasses(args=argv)
    if train_args.threads:
        torch.set_num_threads(train_args.threads)
    out = train_args.output_dir
    if train_args.overwrite_output_dir:
        shutil.rmtree(out, ignore_errors=True)
    random.seed(train_args.seed)

    themes = ThemeList.load(data_args.themes)
    matcher = TfidfMatcher(themes)
    articles = naver_articles(data_args.data_dir, "train", data_args.max_articles)
    started = time.perf_counter()
    readers = ({i: stocks for (_, i), stocks in read_labels(data_args.reader_labels).items()}
               if data_args.reader_labels else None)
    examples, summary = build_examples(data_args.data_dir, matcher, articles, data_args.task_list,
                                       data_args.relevance_per_article, korsts=data_args.korsts, seed=train_args.seed,
                                       readers=readers, reader_repeat=data_args.reader_repeat,
                                       reader_tasks=data_args.reader_task_list)
    summary["build_seconds"] = round(time.perf_counter() - started, 1)
    logger.info("data: %s", summary)

    resuming = (out / "checkpoint" / "trainer.pt").is_file() and (out / "tokenizer.json").is_file()
    if resuming:  # the tokenizer of the interrupted run, so token ids still mean the same
        tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
        model = T5ForConditionalGeneration(T5Config.from_pretrained(out))
    else:
        model, tokenizer = build_model(model_args, data_args, themes)
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(out)
        model.config.save_pretrained(out)
    check_trie_tokenization(tokenizer, [e.target for e in examples if e.task != "relevance"][:2000])
    encoded = encode(tokenizer, examples, data_args)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("model: %.1fM parameters; %d examples", n_params / 1e6, len(encoded))

    command = "theme-train " + " ".join(argv if argv is not None else sys.argv[1:])
    result = train(model, tokenizer, encoded, train_args, command)
    meta = {
        "name": (train_args.export_dir or out).name,
        "tasks": {t: data_args.task_spec(t) for t in data_args.task_list},
        "decoding": DECODING,
        "inputs": "hints",  # the servers give it the candidates' hints (shared.candidates.reads_hints)
        "parameters": n_params,
        "args": {"model": asdict(model_args), "data": asdict(data_args), "train": asdict(train_args)},
        "command": command,
        "data_summary": summary,
        "training": result,
        "torch_threads": torch.get_num_threads(),
    }
    save_model(model, tokenizer, out, meta, model_args.save_dtype)
    if "relevance" in data_args.task_list:  # the relevance hint's related words (shared.related)
        if spec := add_to_model(out, data_args.data_dir, limit=data_args.max_articles):
            meta["related_words"] = spec
    if train_args.do_eval:
        from theme_models.evaluate import evaluate_model

        meta["metrics"] = evaluate_model(out, data_args.data_dir, data_args.themes, limit=train_args.eval_limit)
        (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    write_card(out, str(train_args.export_dir or out))
    if train_args.export_dir:
        export(out, train_args.export_dir)
    logger.info("saved %s", train_args.export_dir or out)


def export(run_dir: Path, export_dir: Path) -> None:
    """Copy the model files of a run (model card included, checkpoint not) to ``export_dir``."""
    export_dir.mkdir(parents=True, exist_ok=True)
    for path in run_dir.iterdir():
        if path.is_file():
            shutil.copy2(path, export_dir / path.name)


if __name__ == "__main__":
    main()
