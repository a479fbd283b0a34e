"""What backends without a logits hook need from the trie: every whole output, and checking a hypothesis."""
import itertools

from shared.t5 import OutputTrie

EOS, SEP = 1, [9]
A, B, C = [5, 6], [5, 7, 8], [4]


def trie(chain=True, outputs=(A, B, C)):
    return OutputTrie([list(o) for o in outputs], SEP, EOS, chain)


def test_enumerate_lists_every_chain_of_distinct_outputs():
    found = trie().enumerate(100)
    expected = [sum(([*o, *SEP] for o in perm[:-1]), []) + perm[-1]
                for k in (1, 2, 3) for perm in itertools.permutations((A, B, C), k)]
    assert sorted(found) == sorted(expected) and len(found) == 15
    assert all(trie().accepts(seq) for seq in found)


def test_enumerate_without_chaining_is_the_outputs_and_gives_up_past_the_limit():
    assert trie(chain=False).enumerate(3) == [A, B, C]
    assert trie().enumerate(14) is None
    assert trie(outputs=()).enumerate(5) == []


def test_accepts_only_whole_allowed_outputs():
    t = trie()
    assert t.accepts([5, 6]) and t.accepts([4, 9, 5, 7, 8])
    assert not t.accepts([5]) and not t.accepts([5, 6, 9]) and not t.accepts([5, 6, 9, 5, 6])
    assert not t.accepts([7]) and not t.accepts([])


def test_complete_prefix_is_the_longest_allowed_beginning():
    t = trie()
    assert t.complete_prefix([5, 6, 9, 4, 3, 3]) == [5, 6, 9, 4]
    assert t.complete_prefix([5, 6, 2]) == [5, 6]
    assert t.complete_prefix([4]) == [4]
    assert t.complete_prefix([7, 7]) is None
    assert t.complete_prefix([5, 7]) is None
