"""The constraint trie: only whole allowed outputs, chained with the separator, each at most once."""
from shared.t5 import OutputTrie

EOS, SEP = 1, [9]
A, B, C = [5, 6], [5, 7, 8], [4]


def trie(chain=True):
    return OutputTrie([A, B, C], SEP, EOS, chain)


def test_first_tokens_are_the_outputs_first_tokens():
    assert sorted(trie().allowed([])) == [4, 5]


def test_inside_an_output_only_its_continuations():
    assert sorted(trie().allowed([5])) == [6, 7]
    assert trie().allowed([5, 7]) == [8]


def test_a_finished_output_may_end_or_chain():
    assert sorted(trie().allowed([5, 6])) == [EOS, 9]
    assert trie(chain=False).allowed([5, 6]) == [EOS]


def test_a_chained_output_is_not_repeated():
    assert sorted(trie().allowed([5, 6, 9])) == [4, 5]
    assert trie().allowed([5, 6, 9, 5]) == [7]  # A is used: only B continues
    assert trie().allowed([5, 6, 9, 4]) == [EOS, 9]
    assert trie().allowed([5, 6, 9, 4, 9, 5, 7, 8]) == [EOS]  # all three used: nothing to chain


def test_after_the_end_only_eos():
    assert trie().allowed([4, EOS]) == [EOS]


def test_an_output_marked_alone_is_never_chained():
    none = [3]
    alone = OutputTrie([A, C, none], SEP, EOS, True, alone=frozenset({2}))
    assert alone.allowed([3]) == [EOS]  # 없음 ends the answer
    assert sorted(alone.allowed([4, 9])) == [5]  # after a pair, only the other pair, not 없음
    assert alone.allowed([4, 9, 5, 6]) == [EOS]  # the pairs used up: 없음 cannot follow
    assert sorted(map(tuple, alone.enumerate(10))) == [(3,), (4,), (4, 9, 5, 6), (5, 6), (5, 6, 9, 4)]


def test_longest_is_every_chainable_output_chained():
    assert trie().longest() == 2 + 3 + 1 + 2 * len(SEP)
    assert trie(chain=False).longest() == 3
    assert OutputTrie([A, [3, 3, 3, 3, 3, 3, 3, 3, 3]], SEP, EOS, True, alone=frozenset({1})).longest() == 9
