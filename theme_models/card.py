"""The model card (``README.md`` in the model directory), written from ``theme_model.json``."""
from __future__ import annotations

import json
from pathlib import Path

from shared.t5 import META_FILE
from theme_models.evaluate import markdown_table

TEMPLATE = """# {name}

A small T5 ({parameters:.1f}M parameters, {dtype} weights) trained from {origin} by `theme-train` on
three tasks of the Theme API suite, told apart by an input prefix:

| task | prefix | max source / target tokens |
|---|---|---|
{tasks}

It ranks candidates and never spells names: the servers constrain its decoding to the answers
`shared/candidates.py` builds from the text and the theme list. How the candidates and the training
labels are made, and what every number below means: `docs/models.md`.

## Data

Built from `../shared/data` at training time (no article text is stored here): {articles} training
Naver Finance articles (the held-out tenth excluded), the theme list `data/themes.csv`, KorSTS `sts-train`.

| label | count |
|---|---|
{summary}

{related}## Command (a resumed run lists each invocation)

```
{command}
```

{steps} optimizer steps ({epochs:.2f} epochs) in {minutes} minutes on {threads} CPU threads; final
training loss {loss}.

## Dev metrics

Measured when the model was trained, with the suite's code of that day; the same weights score
differently as decoding and inputs improve, so run the command for today's numbers (the README
table is kept current).

```
theme-eval --model {export}
```

{metrics}
"""


def related_section(meta: dict) -> str:
    spec = meta.get("related_words")
    if not spec:
        return ""
    return (f"## Related words\n\n"
            f"`{spec['file']}`: {spec['words']:,} words of {spec['articles']:,} training articles in {spec['dims']} dimensions\n"
            f"(`python -m theme_models.related_words`, run by `theme-train`). The relevance hint names a title\n"
            f"word and a sentence word that the corpus puts together when the two texts share nothing else\n"
            f"and are closer than {spec['min_similarity']} (`shared/related.py`).\n\n")


def render(meta: dict, export: str = "models/theme-t5") -> str:
    tasks = "\n".join(f"| {t} | `{s['prefix']}` | {s['max_source_length']} / {s['max_target_length']} |"
                      for t, s in meta["tasks"].items())
    summary = "\n".join(f"| {k} | {v:,} |" for k, v in meta["data_summary"].items() if isinstance(v, int))
    model_args = meta["args"]["model"]
    training = meta["training"]
    return TEMPLATE.format(
        name=meta["name"], parameters=meta["parameters"] / 1e6, dtype=model_args["save_dtype"],
        origin=model_args["model_name_or_path"] or "scratch (a config and a tokenizer trained on the corpus)",
        tasks=tasks, articles=meta["data_summary"].get("articles", 0), summary=summary, related=related_section(meta),
        command="\n".join(meta["training"].get("commands") or [meta["command"]]),
        steps=training["steps"], epochs=training["epochs"], minutes=training["train_minutes"],
        threads=meta.get("torch_threads", "?"), loss=training["final_loss"], export=export,
        metrics=markdown_table(meta["metrics"]) if meta.get("metrics") else "(not evaluated)",
    )


def write_card(model_dir: Path, export: str = "models/theme-t5") -> None:
    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    (model_dir / "README.md").write_text(render(meta, export), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """``python -m theme_models.card MODEL_DIR``: rewrite a model's card from its theme_model.json."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model_dir", type=Path)
    args = parser.parse_args(argv)
    write_card(args.model_dir, str(args.model_dir))


if __name__ == "__main__":
    main()
