"""A Unigram tokenizer with byte fallback trained on the corpus, so no Korean character is ever unknown.

``T5Tokenizer(vocab_file=...)`` is not used: in transformers 5 it ignores the file and forces byte
fallback off. A ``tokenizers`` Unigram wrapped in ``PreTrainedTokenizerFast`` reloads offline with
``AutoTokenizer.from_pretrained(dir)`` and round-trips 툴젠(199800), 뷁 and emoji.

Words are split on spaces only (Metaspace), so encoding ``A = B ; C = D`` whole gives the same ids as
encoding its parts one by one: the constrained decoder's trie relies on that.
"""
from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<pad>", "</s>", "<unk>"]
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


def _configure(tok: Tokenizer) -> None:
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="always")])


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8000, words: Iterable[str] = ()) -> PreTrainedTokenizerFast:
    """Train on ``texts``; pad=0, eos=1, unk=2 as T5 expects; 256 byte pieces catch everything else.

    ``words`` (stock names, the answer words ``related``/``unrelated``/``없음``, the ``=`` and ``;``
    separators) become whole pieces on top of ``vocab_size``, so each is one token wherever it
    starts a word: a stock is then one decision for the constrained decoder, in the source as in
    the answer."""
    tok = Tokenizer(models.Unigram())
    _configure(tok)
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size - len(BYTE_TOKENS),
        special_tokens=SPECIAL_TOKENS,
        unk_token="<unk>",
        max_piece_length=12,
        show_progress=False,
    )
    try:
        tok.train_from_iterator(texts, trainer=trainer)
    except Exception as exc:  # tokenizers raises a bare Exception
        raise ValueError(f"cannot train a {vocab_size}-piece tokenizer on this corpus ({exc}); "
                         "raise --vocab_size above the number of distinct characters plus 259") from exc
    # The trainer cannot add byte pieces itself: rebuild the model with them and byte fallback on.
    trained = [(piece, score) for piece, score in _pieces(tok)]
    scores = [score for _, score in trained[len(SPECIAL_TOKENS):]]
    floor, top = min(scores) - 1.0, max(scores)
    known = {piece for piece, _ in trained}
    extra = [f"▁{w}" for w in dict.fromkeys(words) if w and not any(c.isspace() for c in w)]
    vocab = trained + [(p, top) for p in extra if p not in known] + [(b, floor) for b in BYTE_TOKENS]
    final = Tokenizer(models.Unigram(vocab, unk_id=SPECIAL_TOKENS.index("<unk>"), byte_fallback=True))
    _configure(final)
    final.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    final.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=final, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def _pieces(tok: Tokenizer) -> list[tuple[str, float]]:
    return [tuple(p) for p in json.loads(tok.to_str())["model"]["vocab"]]
