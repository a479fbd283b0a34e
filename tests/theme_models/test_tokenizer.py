"""The corpus tokenizer: nothing Korean is ever unknown, and pairs encode the same whole or in parts."""
from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from shared.pairs import PAIR_SEP
from theme_models.tokenizer import train_tokenizer
from theme_models.train import check_trie_tokenization

# A few sentences written for this test (no article text).
TEXTS = [
    "툴젠은 유전자 교정 기술을 가진 바이오 기업이다.",
    "삼성전자와 SK하이닉스가 고대역폭메모리 반도체 투자를 늘린다.",
    "유전자 치료제/분석 = 툴젠 ; 반도체 대표주(생산) = 삼성전자",
    "2차전지 소재 기업의 실적이 개선될 것으로 보인다.",
] * 20


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    tok = train_tokenizer(TEXTS, vocab_size=400)
    path = tmp_path_factory.mktemp("tok")
    tok.save_pretrained(path)
    return AutoTokenizer.from_pretrained(path, local_files_only=True)


@pytest.mark.parametrize("text", ["툴젠(199800)", "뷁", "🚀📈 급등", "LG엔솔·하이닉스 ; 없음", "ＡＢＣ　전각"])
def test_round_trip_without_unknowns(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.unk_token_id not in ids
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert decoded == __import__("unicodedata").normalize("NFKC", text)


def test_special_ids_are_what_t5_expects(tokenizer):
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    assert tokenizer("툴젠").input_ids[-1] == tokenizer.eos_token_id


def test_pairs_encode_the_same_whole_and_in_parts(tokenizer):
    targets = ["유전자 치료제/분석 = 툴젠", "유전자 치료제/분석 = 툴젠 ; 반도체 대표주(생산) = 삼성전자", "없음"]
    check_trie_tokenization(tokenizer, targets)  # raises on a mismatch
    sep = tokenizer(PAIR_SEP.strip(), add_special_tokens=False).input_ids
    assert sep and tokenizer.unk_token_id not in sep
