"""Stepformer's engine: a tiny Transformer in numpy whose every intermediate is named.

It never imports Qt; the app in `ui/` and teachers' own scripts drive it alike.
"""
from .config import ModelConfig
from .engine import BackwardWalk, Session, Stepper
from .graph import build_graph
from .io import ModelFileError, SaveError, load, save
from .model import NumericOverflowError, Transformer
from .pretrained import CheckpointError, load_pretrained
from .tokenizer import TokenError, Tokenizer
from .trace import Step, Trace

__all__ = ["ModelConfig", "Transformer", "Trace", "Step", "Tokenizer", "TokenError", "Session", "Stepper",
           "BackwardWalk",
           "save", "load", "ModelFileError", "SaveError", "NumericOverflowError", "build_graph", "load_pretrained",
           "CheckpointError"]
