"""A T5 seq2seq model held by a server: loaded once, generating with scores and optional constraints.

A model directory is plain Hugging Face format (``config.json``, safetensors, tokenizer files), so a
user's own fine-tuned checkpoint drops in. When the directory also holds ``theme_model.json`` (written
by ``theme-train``), the per-task input prefixes and maximum lengths are read from it.

Constrained decoding: a caller may give, per input, the list of whole outputs it accepts (for example
``"유전자 치료제/분석 = 툴젠"`` for every stock found in the article). Beam search then follows a token trie
of those outputs, optionally chaining several with ``PAIR_SEP``, so it can only ever emit one of them.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (AttentionInterface, AutoModelForSeq2SeqLM, AutoTokenizer, DynamicCache, EncoderDecoderCache,
                          LogitsProcessor, LogitsProcessorList)
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import logging as hf_logging

from shared.device import resolve_device
from shared.pairs import NONE, PAIR_SEP

logger = logging.getLogger(__name__)

META_FILE = "theme_model.json"
DEFAULT_TASK = {"prefix": "", "max_source_length": 512, "max_target_length": 64}


@dataclass
class Generation:
    text: str
    score: float  # length-normalised log-probability of ``text`` (beam search), <= 0


@dataclass
class _Node:
    children: dict[int, "_Node"] = field(default_factory=dict)
    output: int | None = None  # index of the output that ends here
    below: set[int] = field(default_factory=set)  # outputs that end at or below this node


class OutputTrie:
    """The token sequences a constrained generation may produce: one output, or several distinct ones
    joined by the pair separator."""

    def __init__(self, sequences: list[list[int]], sep: list[int], eos: int, chain: bool,
                 alone: frozenset[int] = frozenset()) -> None:
        self.root = _Node()
        self.alone = alone  # outputs that are never part of a chain (``없음``)
        self.sequences = [list(seq) for seq in sequences]  # kept for backends that score outputs whole
        for index, seq in enumerate(sequences):
            node = self.root
            node.below.add(index)
            for tok in seq:
                node = node.children.setdefault(tok, _Node())
                node.below.add(index)
            node.output = index
        self.sep, self.eos, self.chain = sep, eos, chain and bool(sep)
        # Decoding asks for every hypothesis at every step, and the hypotheses of a beam share their
        # prefixes: each prefix's state is computed once, from its parent's.
        self._states: dict[tuple[int, ...], tuple | None] = {(): (self.root, None, frozenset())}
        self._allowed: dict[tuple[int, ...], list[int]] = {}

    def _state(self, prefix: tuple[int, ...]) -> tuple | None:
        """``(node, position in the separator or None, outputs used)`` after ``prefix``; None once the
        prefix has left the trie (an end of sequence, or padding after it)."""
        state = self._states.get(prefix)
        if state is not None or prefix in self._states:
            return state
        parent = self._state(prefix[:-1])
        if parent is not None:
            node, sep_pos, used = parent
            tok = prefix[-1]
            if sep_pos is not None:
                sep_pos += 1
            elif tok in node.children:
                node = node.children[tok]
            elif node.output is not None and self.chain and tok == self.sep[0]:
                used, sep_pos = used | {node.output}, 1
            else:
                node = None
            if node is not None and sep_pos is not None and sep_pos == len(self.sep):
                node, sep_pos, used = self.root, None, used | self.alone
            parent = None if node is None else (node, sep_pos, used)
        self._states[prefix] = parent
        return parent

    def allowed(self, generated: list[int]) -> list[int]:
        """The tokens that may follow ``generated`` (decoder start token excluded)."""
        key = tuple(generated)
        options = self._allowed.get(key)
        if options is None:
            options = self._allowed[key] = self._options(self._state(key))
        return options

    def _options(self, state: tuple | None) -> list[int]:
        if state is None:
            return [self.eos]
        node, sep_pos, used = state
        if sep_pos is not None:
            return [self.sep[sep_pos]]
        options = [tok for tok, child in node.children.items() if child.below - used]
        if node.output is not None and node.output not in used:
            options.append(self.eos)
            if self.chain and node.output not in self.alone and self.root.below - used - self.alone - {node.output}:
                options.append(self.sep[0])
        return options or [self.eos]

    def accepts(self, tokens: list[int]) -> bool:
        """Whether ``tokens`` (eos excluded) is a whole output the trie allows."""
        return all(tok in self.allowed(tokens[:i]) for i, tok in enumerate(tokens)) and \
            self.eos in self.allowed(tokens)

    def complete_prefix(self, tokens: list[int]) -> list[int] | None:
        """The longest prefix of ``tokens`` that is a whole allowed output, or None."""
        best = None
        for i, tok in enumerate(tokens):
            allowed = self.allowed(tokens[:i])
            if self.eos in allowed and i:
                best = tokens[:i]
            if tok not in allowed:
                return best
        return tokens if self.eos in self.allowed(tokens) else best

    def longest(self) -> int:
        """The most tokens an allowed answer has (every output that may be chained, chained)."""
        chained = [len(seq) for i, seq in enumerate(self.sequences) if i not in self.alone]
        alone = max((len(self.sequences[i]) for i in self.alone), default=0)
        if not self.chain:
            return max(map(len, self.sequences), default=0)
        return max(alone, sum(chained) + len(self.sep) * max(0, len(chained) - 1))

    def enumerate(self, limit: int) -> list[list[int]] | None:
        """Every whole output the trie allows (chains included), or None when there are more than
        ``limit`` of them."""
        found: list[list[int]] = []

        def walk(prefix: list[int], used: frozenset[int]) -> bool:
            for index, seq in enumerate(self.sequences):
                if index in used or (prefix and index in self.alone):
                    continue
                whole = prefix + seq
                found.append(whole)
                if len(found) > limit:
                    return False
                if index in self.alone:
                    continue
                if self.chain and len(used) + 1 < len(self.sequences) and not walk(whole + self.sep, used | {index}):
                    return False
            return True

        return found if walk([], frozenset()) else None


class _Renormalized(LogitsProcessor):
    """Constrained decoding that renormalises over the allowed tokens (opted into by a model's
    ``theme_model.json``: ``"decoding": {"renormalize": true}``): a token the constraint forces costs
    the search nothing, so a chain of several pairs is not outranked by a short answer for its forced
    tokens alone. The search then depends on the allowed tokens' logits only, so it may run over a
    ``vocabulary`` of those tokens (``_Subset``); the reported score is computed afterwards
    (``T5Generator._rescore``)."""

    def __init__(self, allowed: list["OutputTrie | None"], num_beams: int, vocabulary: list[int] | None = None) -> None:
        self.allowed, self.num_beams = allowed, num_beams
        self.vocabulary = torch.tensor(vocabulary) if vocabulary is not None else None
        self.index = {tok: i for i, tok in enumerate(vocabulary)} if vocabulary is not None else None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[:, 1:]
        if self.vocabulary is not None:
            generated = self.vocabulary.to(generated.device)[generated]
        rows: list[int] = []
        tokens: list[int] = []
        free: list[int] = []  # rows without a constraint
        for row, ids in enumerate(generated.tolist()):  # one copy per step, not one per row
            trie = self.allowed[row // self.num_beams]
            if trie is None:
                free.append(row)
                continue
            options = trie.allowed(ids)
            rows += [row] * len(options)
            tokens += options if self.index is None else [self.index[tok] for tok in options]
        mask = torch.full_like(scores, float("-inf"))  # ~80 columns under a _Subset, so this is cheap
        mask[rows, tokens] = 0
        mask[free] = 0
        return (scores + mask).log_softmax(dim=-1)


class _Subset(threading.local):
    """The output tokens the decoding running on this thread may produce (``ids``; None: all of them).

    A constrained answer can only use the tokens of its tries (~80 of the shipped model's 10,303 for a
    batch of 16 articles), and with renormalised search the choice depends on their logits alone. So
    the decoder's output layer computes those logits only, and beam search ranks, sorts and
    log-softmaxes ~80 columns instead of 10,303: on CPU these were a fifth of a batch's decoding. Tokens
    are then numbered by their place in ``ids`` (the special tokens keep their ids); the input
    embedding maps them back. Thread-local because batch workers share one model."""

    ids: torch.Tensor | None = None
    weight: torch.Tensor | None = None


class _SubsetHead(torch.nn.Module):
    def __init__(self, head: torch.nn.Linear, subset: _Subset) -> None:
        super().__init__()
        self.head, self.subset = head, subset

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.subset.ids is None:
            return self.head(hidden)
        return torch.nn.functional.linear(hidden, self.subset.weight)


class _SubsetEmbedding(torch.nn.Module):
    def __init__(self, embedding: torch.nn.Embedding, subset: _Subset) -> None:
        super().__init__()
        self.embedding, self.subset = embedding, subset

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids if self.subset.ids is None else self.subset.ids[ids])


def _install_subset(model) -> _Subset | None:
    """Route the decoder's output layer and input embedding through a ``_Subset`` (once per model); None
    for a model without the usual T5 layout."""
    head, decoder = getattr(model, "lm_head", None), getattr(model, "decoder", None)
    if isinstance(head, _SubsetHead):
        return head.subset
    if not isinstance(head, torch.nn.Linear) or head.bias is not None or \
            not isinstance(getattr(decoder, "embed_tokens", None), torch.nn.Embedding):
        return None
    subset = _Subset()
    model.lm_head = _SubsetHead(head, subset)
    decoder.embed_tokens = _SubsetEmbedding(decoder.embed_tokens, subset)
    return subset


class _BeamCache(EncoderDecoderCache):
    """The decoder's cache for beam search without copying the cross-attention keys and values each step.

    transformers reorders both halves of the cache after every step (an ``index_select`` of every
    layer's encoder keys and values: most of the time of a batch of 16 articles on CPU). Beam search
    only ever moves a hypothesis between beams of the same input, and every beam of one input holds the
    same encoder states, so the cross-attention half is unchanged by the reordering: skipping it is exact.
    """

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self.self_attention_cache.reorder_cache(beam_idx)


def _beam_cache(model, states: torch.Tensor) -> EncoderDecoderCache:
    """The cache a beam search over ``states`` (the encoder's output, one row per input) starts from.

    Its cross-attention half is filled here with each input's keys and values, once: transformers would
    compute them at the first step from the encoder states it has copied to every beam (with 4 beams,
    four times the projections, a sixth of a batch's decoding on CPU) and keep every copy, which each
    step then reads. ``_beam_attention`` lets the beams of an input share the one copy. A model without
    T5's layers, or not loaded with that attention (``T5Generator.load`` does), gets transformers' own
    cache."""
    config = model.config.get_text_config(decoder=True)
    own = EncoderDecoderCache(DynamicCache(config=config), DynamicCache(config=config))
    if getattr(model.config, "_attn_implementation", None) != BEAM_ATTENTION:  # loaded elsewhere, without it
        return own
    cross = DynamicCache(config=config)
    for index, block in enumerate(getattr(getattr(model, "decoder", None), "block", [])):
        attention = getattr(block.layer[1], "EncDecAttention", None) if len(block.layer) > 2 else None
        if attention is None:
            return own
        shape = (*states.shape[:2], attention.n_heads, attention.key_value_proj_dim)
        cross.update(attention.k(states).view(shape).transpose(1, 2),
                     attention.v(states).view(shape).transpose(1, 2), index)
    return _BeamCache(DynamicCache(config=config), cross)  # filled layers count as computed


def _beam_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attention_mask, **kwargs):
    """transformers' sdpa attention, except when the keys and values are held once per input
    (``_beam_cache``) while the queries come once per beam: the beams of an input (rows
    ``i * beams ... i * beams + beams - 1``, transformers' layout) then query their input's keys together."""
    rows, inputs = query.shape[0], key.shape[0]
    if rows == inputs:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    beams, (_, heads, steps, dim) = rows // inputs, query.shape
    if steps != 1:  # not a decoding step (nothing here runs one): expand the keys instead
        key, value = key.repeat_interleave(beams, dim=0), value.repeat_interleave(beams, dim=0)
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    grouped = query.reshape(inputs, beams, heads, dim).transpose(1, 2)  # (inputs, heads, beams, dim)
    mask = attention_mask[::beams] if attention_mask is not None else None
    kwargs["is_causal"] = False  # the beams sit on the query axis: they must not mask each other
    out, _ = sdpa_attention_forward(module, grouped, key, value, mask, **kwargs)  # (inputs, beams, heads, dim)
    return out.reshape(rows, 1, heads, dim), None


BEAM_ATTENTION = "theme_api_beams"  # the attention implementation T5Generator loads its models with
AttentionInterface.register(BEAM_ATTENTION, _beam_attention)
AttentionMaskInterface.register(BEAM_ATTENTION, sdpa_mask)  # masks as for sdpa


class T5Generator:
    """One T5 model and its tokenizer on one device.

    The model is changed in place for decoding: its output layer and decoder input embedding are
    wrapped (``_Subset``; the state dict's names change, and it can no longer be deep-copied), and
    ``load`` gives it ``_beam_attention``. Serve it; train or save a fresh copy."""

    def __init__(self, model, tokenizer, device: torch.device, meta: dict, path: Path) -> None:
        self.model, self.tokenizer, self.device, self.meta, self.path = model, tokenizer, device, meta, path
        self.name = meta.get("name") or path.name
        self._tokenizer_lock = threading.Lock()
        self._subset = _install_subset(model) if isinstance(model, torch.nn.Module) else None
        self._sep_ids = self.encode(PAIR_SEP.strip(), add_special_tokens=False).input_ids

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> "T5Generator":
        """Load from a local directory only (never a hub); CUDA runs in half precision."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"no T5 model at {path} (config.json missing)")
        torch_device, dtype = resolve_device(device)
        hf_logging.disable_progress_bar()  # progress bars would garble the documented log lines
        started = time.perf_counter()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForSeq2SeqLM.from_pretrained(path, local_files_only=True, dtype=dtype,
                                                          attn_implementation=BEAM_ATTENTION)
        except Exception as exc:  # a corrupt or truncated file: say which model, whatever the library says
            raise RuntimeError(f"the T5 model at {path} could not be loaded (a file corrupt or incomplete?): "
                               f"{type(exc).__name__}: {exc}") from exc
        model.to(torch_device).eval()
        meta_file = path / META_FILE
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        logger.info("loaded T5 %s on %s (%s) in %.1fs", path, torch_device, dtype, time.perf_counter() - started)
        return cls(model, tokenizer, torch_device, meta, path)

    def task(self, name: str) -> dict:
        """Prefix and max lengths of a task, from ``theme_model.json`` or the defaults."""
        return {**DEFAULT_TASK, **self.meta.get("tasks", {}).get(name, {})}

    def encode(self, text, **kwargs):
        """``self.tokenizer(text, **kwargs)``, one call at a time. A fast tokenizer keeps its truncation and
        padding settings on the shared Rust object and sets them on every call, so calls from several
        threads (request threads measuring sources, a batch worker padding a batch) can run with each
        other's settings: measured under load, a batch came out unpadded and failed (transformers
        issue 47085 reports ``Already borrowed`` from the same race)."""
        with self._tokenizer_lock:
            return self.tokenizer(text, **kwargs)

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids`` without special tokens (under the same lock: decoding borrows the same object)."""
        with self._tokenizer_lock:
            return self.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def source_ids(self, task: str, sources: list[str]) -> list[list[int]]:
        """The token ids the model reads for each source: task prefix, truncation, eos."""
        spec = self.task(task)
        return self.encode([spec["prefix"] + s for s in sources], max_length=spec["max_source_length"],
                           truncation=True).input_ids

    def source_lengths(self, task: str, sources: list[str]) -> list[int]:
        """How many tokens each source takes (for a batcher's token budget)."""
        return [len(ids) for ids in self.source_ids(task, sources)]

    def trie(self, outputs: list[str], chain: bool) -> OutputTrie:
        """The trie of ``outputs``; with ``chain``, distinct outputs may be joined by the separator,
        except ``없음``, which stands alone."""
        kept = [(o, ids) for o in outputs if (ids := self.encode(o, add_special_tokens=False).input_ids)]
        alone = frozenset(i for i, (o, _) in enumerate(kept) if o == NONE)
        return OutputTrie([ids for _, ids in kept], self._sep_ids, self.tokenizer.eos_token_id, chain, alone)

    @torch.inference_mode()
    def generate(
        self,
        task: str,
        sources: list[str],
        allowed: list[OutputTrie | None] | None = None,
        num_beams: int = 4,
    ) -> list[Generation]:
        """The best output for each source, with its length-normalised log-probability."""
        if not sources:
            return []
        spec = self.task(task)
        allowed = allowed if allowed is not None and any(t is not None for t in allowed) else None
        batch = self.encode(
            [spec["prefix"] + s for s in sources],
            max_length=spec["max_source_length"],
            truncation=True,
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        kwargs = {}
        decoding = self.meta.get("decoding", {})
        renormalized = allowed is not None and bool(decoding.get("renormalize")) and num_beams > 1
        vocabulary = self._vocabulary(allowed) if renormalized else None
        if renormalized:
            kwargs["logits_processor"] = LogitsProcessorList([_Renormalized(allowed, num_beams, vocabulary)])
        elif allowed is not None:
            kwargs["prefix_allowed_tokens_fn"] = self._constraint(allowed)
        if num_beams > 1:
            kwargs.update(num_beams=num_beams, length_penalty=1.0,
                          early_stopping=decoding.get("early_stopping", True))
        encoded = self._encoder_states(batch)
        if num_beams > 1:
            kwargs["past_key_values"] = _beam_cache(self.model, encoded)
        with self._only(vocabulary):
            out = self.model.generate(
                encoder_outputs=BaseModelOutput(last_hidden_state=encoded),  # generate expands this copy
                attention_mask=batch.attention_mask,
                do_sample=False,
                max_new_tokens=self.answer_limit(task, allowed) + 1,  # + the end token
                output_scores=not renormalized,  # those answers are scored afterwards
                output_logits=num_beams == 1,
                return_dict_in_generate=True,
                **kwargs,
            )
        sequences = out.sequences if vocabulary is None else torch.tensor(vocabulary)[out.sequences.cpu()]
        answers = self._answers(sequences, allowed)
        # Renormalised search scores are not the model's log-probabilities: score the answers themselves.
        scores = self._rescore(encoded, batch.attention_mask, answers) if renormalized else self._scores(out, num_beams)
        return [Generation(self.decode(ids), float(score)) for ids, score in zip(answers, scores)]

    def _vocabulary(self, allowed: list[OutputTrie | None]) -> list[int] | None:
        """The output tokens a batch's answers can use, special tokens first at their own ids; None when
        an input is unconstrained or the model has no ``_Subset``."""
        if self._subset is None or any(t is None for t in allowed):
            return None
        config, tokenizer = self.model.generation_config, self.tokenizer
        specials: list[int] = []
        for ids in (config.decoder_start_token_id, config.eos_token_id, config.pad_token_id,
                    tokenizer.eos_token_id, tokenizer.pad_token_id):
            specials += ids if isinstance(ids, list) else [ids] if isinstance(ids, int) else []
        if not specials:
            return None
        fixed = list(range(max(specials) + 1))  # generate knows them by their ids (T5: pad/start 0, end 1)
        used = {tok for trie in allowed for seq in trie.sequences for tok in seq}  # type: ignore[union-attr]
        used |= {tok for trie in allowed for tok in (*trie.sep, trie.eos)}  # type: ignore[union-attr]
        return fixed + sorted(used - set(fixed))

    @contextmanager
    def _only(self, vocabulary: list[int] | None):
        """Decode over ``vocabulary`` only, on this thread (``_Subset``)."""
        if vocabulary is None:
            yield
            return
        ids = torch.tensor(vocabulary, device=self.device)
        self._subset.ids, self._subset.weight = ids, self.model.lm_head.head.weight[ids]
        try:
            yield
        finally:
            self._subset.ids = self._subset.weight = None

    @torch.inference_mode()
    def _rescore(self, encoded: torch.Tensor, mask: torch.Tensor, answers: list[list[int]]) -> list[float]:
        """Each answer's length-normalised log-probability (end token included; the same as beam search's
        score with length penalty 1 and as CTranslate2's), by one forced decoding pass. An answer cut by
        the length limit is scored as the answer returned, as if it ended there."""
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        width = max(len(a) for a in answers) + 1
        targets = torch.full((len(answers), width), pad, dtype=torch.long)
        for row, ids in enumerate(answers):
            targets[row, : len(ids) + 1] = torch.tensor([*ids, eos])
        config = self.model.config
        inputs = torch.cat([torch.full((len(answers), 1), config.decoder_start_token_id), targets[:, :-1]], dim=1)
        targets = targets.to(self.device)
        hidden = self.model.decoder(input_ids=inputs.to(self.device), encoder_hidden_states=encoded,
                                    encoder_attention_mask=mask, use_cache=False).last_hidden_state
        if getattr(config, "scale_decoder_outputs", config.tie_word_embeddings):  # as T5ForConditionalGeneration
            hidden = hidden * config.d_model ** -0.5
        lengths = torch.tensor([len(a) + 1 for a in answers], device=self.device)
        keep = torch.arange(width, device=self.device)[None, :] < lengths[:, None]
        # The output layer only at the answers' positions (padding was more than half of them).
        logprobs = self.model.lm_head(hidden[keep]).float().log_softmax(dim=-1)
        logprobs = logprobs.gather(-1, targets[keep].unsqueeze(-1)).squeeze(-1)
        rows = torch.arange(len(answers), device=self.device)[:, None].expand_as(keep)[keep]
        return (torch.zeros(len(answers), device=self.device).index_add_(0, rows, logprobs) / lengths).tolist()

    def _encoder_states(self, batch) -> torch.Tensor:
        """The encoder's last hidden state for a padded batch. On CPU each input is encoded alone, without
        padding: attention over a padded batch goes through a masked path that cost, per article, three
        times what encoding it alone does (measured: 16 classify inputs, 1 thread, 28 vs 9.6 ms each; the
        states agree to 1e-5). On a GPU one padded call is the fast way."""
        encoder = self.model.get_encoder()
        if self.device.type != "cpu" or len(batch.input_ids) == 1:
            return encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        states = torch.zeros(*batch.input_ids.shape, self.model.config.d_model, dtype=self.model.dtype,
                             device=self.device)
        for row, (ids, mask) in enumerate(zip(batch.input_ids, batch.attention_mask.bool())):
            states[row, mask] = encoder(input_ids=ids[mask][None]).last_hidden_state[0]
        return states

    def answer_limit(self, task: str, allowed: list[OutputTrie | None] | None) -> int:
        """The most tokens an answer may have (end token excluded): the task's ``max_target_length``, or
        the model's ``decoding.max_new_tokens`` for the task when smaller (with renormalised decoding a
        chain of forced pairs can always grow; docs/performance.md measures what a cap costs), or, when
        every input is constrained, the longest answer any of the tries allows. ``max_target_length``
        counts the end token, as in training."""
        limit = int(self.task(task)["max_target_length"]) - 1
        cap = self.meta.get("decoding", {}).get("max_new_tokens", {}).get(task)
        if cap:
            limit = min(limit, int(cap))
        if allowed is not None and all(t is not None for t in allowed):
            limit = min(limit, max(t.longest() for t in allowed))  # type: ignore[union-attr]
        return max(1, limit)

    def _answers(self, sequences: torch.Tensor, allowed: list[OutputTrie | None] | None) -> list[list[int]]:
        """The answers' token ids; a constrained answer cut by the length limit is cut back to the longest
        whole answer it begins with (never half a stock name)."""
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        answers = []
        for row, seq in enumerate(sequences.tolist()):
            ids = seq[1:]  # after the decoder start token, up to the end token
            ids = [t for t in (ids[: ids.index(eos)] if eos in ids else ids) if t != pad]
            trie = allowed[row] if allowed is not None else None
            if trie is not None and not trie.accepts(ids):
                ids = trie.complete_prefix(ids) or []
            answers.append(ids)
        return answers

    def _constraint(self, allowed: list[OutputTrie | None]):
        vocab = list(range(len(self.tokenizer)))

        def allowed_tokens(batch_id: int, input_ids: torch.Tensor) -> list[int]:
            trie = allowed[batch_id]
            return vocab if trie is None else trie.allowed(input_ids[1:].tolist())

        return allowed_tokens

    def _scores(self, out, num_beams: int) -> list[float]:
        if num_beams > 1 and out.sequences_scores is not None:
            return out.sequences_scores.tolist()
        # Greedy: score with the raw logits, not the constrained ones (which sum to 1 over the
        # allowed tokens and would flatter the model).
        logprobs = torch.stack(out.logits, dim=1).float().log_softmax(dim=-1)
        chosen = out.sequences[:, 1:]
        steps = logprobs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
        keep = torch.ones_like(chosen, dtype=torch.bool)
        keep[:, 1:] = chosen[:, :-1] != self.tokenizer.eos_token_id  # up to and including eos
        keep &= chosen != self.tokenizer.pad_token_id
        lengths = keep.sum(dim=1).clamp(min=1)
        return ((steps * keep).sum(dim=1) / lengths).tolist()

    @torch.inference_mode()
    def health(self) -> dict:
        """A one-token forward pass on the model's device, timed."""
        started = time.perf_counter()
        ids = self.encode("건강", return_tensors="pt").input_ids.to(self.device)
        start = torch.full((1, 1), self.model.config.decoder_start_token_id, device=self.device)
        self.model(input_ids=ids, decoder_input_ids=start)
        return {"name": self.name, "device": str(self.device), "dtype": str(self.model.dtype),
                "forward_ms": round((time.perf_counter() - started) * 1000, 1)}
