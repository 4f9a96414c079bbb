"""Tokenizer: word and character splitting, <unk> mapping, errors that name the unknown pieces."""
import pytest

from simulator import ModelConfig, TokenError, Tokenizer, Transformer


def test_word_level_splits_on_any_whitespace():
    tok = Tokenizer(("the", "cat", "sat"))
    assert tok.tokens("the  cat\tsat\n") == ["the", "cat", "sat"]
    assert tok.encode("sat the cat") == [2, 0, 1]
    assert tok.decode([2, 0, 1]) == "sat the cat"


def test_char_level_keeps_every_character_including_spaces():
    tok = Tokenizer(("a", "b", " "), level="char")
    assert tok.tokens("ab ba") == ["a", "b", " ", "b", "a"]
    assert tok.decode(tok.encode("ab ba")) == "ab ba"


def test_a_list_of_tokens_is_taken_as_is():
    tok = Tokenizer(("the", "cat sat"), level="word")
    assert tok.tokens(["cat sat", "the"]) == ["cat sat", "the"]


def test_unknown_pieces_are_named_once_each_in_order():
    tok = Tokenizer(("the", "cat"))
    with pytest.raises(TokenError) as err:
        tok.tokens("the dog and the bird and")
    assert str(err.value) == "Not in the vocabulary: 'dog', 'and', 'bird'."
    assert err.value.unknown == ["dog", "and", "bird", "and"]
    assert isinstance(err.value, ValueError)


def test_unknown_pieces_become_unk_when_the_vocab_has_it():
    tok = Tokenizer(("<unk>", "the", "cat"))
    assert tok.tokens("the dog") == ["the", "<unk>"]
    assert tok.encode("the dog") == [1, 0]
    char = Tokenizer(("<unk>", "a"), level="char")
    assert char.tokens("ab") == ["a", "<unk>"]


def test_non_string_tokens_and_bad_ids_are_refused():
    tok = Tokenizer(("a", "b"))
    with pytest.raises(TokenError, match="must be strings"):
        tok.tokens(["a", None])
    with pytest.raises(TokenError, match=r"Token id 2 is outside the vocabulary \(0..1\)"):
        tok.decode([0, 2])
    with pytest.raises(TokenError, match="outside"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="level"):
        Tokenizer(("a",), level="bpe")


def test_build_vocab_lists_pieces_in_order_of_first_appearance():
    assert Tokenizer.build_vocab("the cat saw the dog") == ("<unk>", "the", "cat", "saw", "dog")
    assert Tokenizer.build_vocab("abca", level="char", unk=False) == ("a", "b", "c")
    assert Tokenizer.build_vocab("<unk> a <unk>") == ("<unk>", "a")


def test_model_uses_the_config_tokenization_and_checks_length():
    m = Transformer(ModelConfig(vocab=("a", "b", "c"), tokenization="char", n_ctx=3, d_model=4))
    assert m.tokens("abc") == ["a", "b", "c"]
    with pytest.raises(TokenError, match="4 tokens but the model takes at most n_ctx = 3"):
        m.tokens("abca")
    with pytest.raises(TokenError, match="'d'"):
        m.tokens("abd")
    encdec = Transformer(ModelConfig(arch="encoder-decoder", n_ctx=3))
    assert encdec.tokens(("the cat", "a")) == (["the", "cat"], ["a"])
    with pytest.raises(TokenError, match="The target is empty"):
        encdec.tokens(("the cat", ""))
    with pytest.raises(TokenError, match="The source has 4 tokens"):
        encdec.tokens(("the cat sat on", "a"))


def test_a_word_made_of_tokens_written_together_gets_a_hint():
    tok = Tokenizer(tuple("0123456789") + ("=>",))
    with pytest.raises(TokenError) as err:
        tok.tokens("713 =>")
    assert str(err.value) == "Not in the vocabulary: '713'. Write '713' as separate tokens: '7 1 3'."
    with pytest.raises(TokenError) as err:  # letters that are not tokens: no hint
        tok.tokens("7x3")
    assert str(err.value) == "Not in the vocabulary: '7x3'."
