"""`stepformer generate`: write a continuation of a prompt, token by token, and print it."""
from __future__ import annotations

import sys

from simulator.cli import open_model
from simulator.generate import END


def generate_parser():
    from ui.cli_commands import OneLineParser, model_source

    parser = OneLineParser(
        prog="stepformer generate",
        description="Continue a prompt one token at a time: run the model, sample the next token with "
                    "temperature, top-k and top-p, append it, repeat. Prints the new text.",
        epilog="Examples: stepformer generate --preset text-chars --prompt \"and god said\" --temperature 0.8\n"
               "          stepformer generate --preset translate --prompt \"7 1 3 =>\" --top-k 1")
    model_source(parser, "a model file saved by Stepformer (.npz), or a GPT-2 checkpoint folder")
    parser.add_argument("--prompt", required=True,
                        help="the text to continue (encoder-decoder: 'SOURCE =>', optionally followed by "
                             "the start of the target)")
    parser.add_argument("--tokens", type=int, default=40, metavar="N", help="how many tokens to write (default 40)")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T", help="above 0; default 1")
    parser.add_argument("--top-k", type=int, default=None, metavar="K", help="keep the K most likely (1 = greedy)")
    parser.add_argument("--top-p", type=float, default=None, metavar="P",
                        help="nucleus: keep tokens until P (0 < P ≤ 1)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the same seed writes the same text")
    parser.add_argument("--no-cache", action="store_true", help="run the whole model for every token")
    return parser


def prompt_tokens(model, prompt: str):
    """The tokens of PROMPT; a character model without capitals reads it lower-cased."""
    cfg = model.config
    if cfg.tokenization == "char" and not any(t.isupper() for t in cfg.vocab if len(t) == 1):
        prompt = prompt.lower()
    if cfg.arch == "encoder-decoder":
        if "=>" not in prompt:
            raise ValueError("This is an encoder-decoder model: write the prompt as 'SOURCE =>' "
                             "(the decoder then writes the target).")
        source, target = (part.strip() for part in prompt.split("=>", 1))
        return model.tokenizer.tokens(source), model.tokenizer.tokens(target)
    return model.tokens(prompt)


def generate_main(argv: list[str]) -> int:
    """Continue a prompt token by token (temperature, top-k, top-p, seed) and print the new text."""
    args = generate_parser().parse_args(argv)
    from simulator.generate import generate

    try:
        model, _tokens = open_model(args.preset, args.model)
        tokens = prompt_tokens(model, args.prompt)
        new = generate(model, tokens, args.tokens, args.temperature, args.top_k, args.top_p, args.seed,
                       use_cache=not args.no_cache)
    except (ValueError, OSError) as exc:
        print(f"stepformer generate: {exc}", file=sys.stderr)
        return 2
    words = [t for t in new if t != END]
    print(model.tokenizer.decode([model.tokenizer.ids[t] for t in words]))
    return 0
