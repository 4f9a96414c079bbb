"""`stepformer generate` prints a continuation; bad settings are one line on stderr and exit code 2."""
import pytest

from simulator.presets import load_preset
from ui.cli_commands import COMMANDS


def run(capsys, *argv):
    code = COMMANDS["generate"](list(argv))
    out = capsys.readouterr()
    return code, out.out.strip(), out.err.strip()


def test_encoder_decoder_writes_the_target_from_the_source(capsys):
    assert run(capsys, "--preset", "translate", "--prompt", "7 1 3 =>", "--top-k", "1") == (
        0, "seven hundred thirteen", "")
    assert run(capsys, "--preset", "translate", "--prompt", "9 0 5 => nine", "--top-k", "1")[1] == "hundred five"


def test_decoder_continues_the_prompt_with_the_seed_fixing_the_text(capsys):
    code, text, _ = run(capsys, "--preset", "induction", "--prompt", "c h a f j d c", "--tokens", "5", "--top-k", "1")
    assert (code, text) == (0, "h a f j d")
    a = run(capsys, "--prompt", "the cat", "--tokens", "12", "--seed", "3", "--temperature", "2")
    b = run(capsys, "--prompt", "the cat", "--tokens", "12", "--seed", "3", "--temperature", "2", "--no-cache")
    assert a == b and len(a[1].split()) == 12
    model, _, _ = load_preset("induction")
    assert text.split() == model.generate("c h a f j d c", 5, top_k=1)


@pytest.mark.parametrize("args, words", [
    (("--temperature", "0"), "temperature"), (("--top-k", "0"), "top-k"), (("--top-p", "1.5"), "top-p"),
    (("--top-p", "0"), "top-p"), (("--tokens", "-2"), "whole number"), (("--preset", "nope"), "no preset"),
])
def test_bad_values_are_refused(capsys, args, words):
    code, out, err = run(capsys, "--prompt", "the cat", *args)
    assert code == 2 and out == "" and words in err and len(err.splitlines()) == 1


def test_an_encoder_decoder_prompt_needs_the_arrow(capsys):
    code, _, err = run(capsys, "--preset", "translate", "--prompt", "7 1 3")
    assert code == 2 and "SOURCE =>" in err
