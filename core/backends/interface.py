"""What generation needs from a trained model, whatever runs it (torch modules or numpy).

Arrays in and out are numpy, float32 for features and logits, int64 for ids; the masked decoding
(`core/generation/masked_decoding.py`) is written once against these protocols. `MotionModels`
gathers one complete model: tokenizer, the two token transformers, the optional length estimator,
the feature statistics and the name of the text encoder they were trained with.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class MotionTokenizer(Protocol):
    config: Any  # RVQVAEConfig

    def encode(self, motion: np.ndarray) -> np.ndarray:  # (B, T, D) normalised -> (B, T / 4, Q) ids
        ...

    def decode(self, ids: np.ndarray) -> np.ndarray:  # (B, N, Q') ids, -1 contributes nothing -> (B, 4 N, D)
        ...


class BaseTokenModel(Protocol):
    config: Any  # MaskTransformerConfig
    mask_id: int
    pad_id: int

    def guided_logits(self, ids: np.ndarray, text: np.ndarray, padding: np.ndarray, guidance_scale: float, *,
                      positions: np.ndarray | None = None) -> np.ndarray:
        """(B, N), (B, text_dim), (B, N) -> (B, N, V). positions (B, N) bool: the logits the caller
        will read; a backend may skip the others (their values are then unspecified)."""
        ...


class ResidualTokenModel(Protocol):
    config: Any  # ResidualTransformerConfig
    pad_id: int

    def embedding_tables(self) -> np.ndarray:  # (Q-1, V, C): table j embeds the ids of layer j
        ...

    def guided_logits(self, history: np.ndarray, layer: int, text: np.ndarray, padding: np.ndarray,
                      guidance_scale: float) -> np.ndarray:  # (B, N, C), j, (B, text_dim), (B, N) -> (B, N, V + 1)
        ...


class LengthModel(Protocol):
    config: Any  # LengthEstimatorConfig

    def logits(self, text: np.ndarray) -> np.ndarray:  # (B, text_dim) -> (B, n_classes) over token counts
        ...


@dataclass
class MotionModels:
    vq: MotionTokenizer
    mask_transformer: BaseTokenModel
    residual_transformer: ResidualTokenModel
    mean: np.ndarray  # (D,) feature mean
    std: np.ndarray  # (D,) feature std
    text_encoder: str  # "all-MiniLM-L6-v2" or "clip"
    length_estimator: LengthModel | None = None
    backend: str = "numpy"  # "numpy" or "torch"
    info: dict = field(default_factory=dict)  # licence, data, training notes

    @property
    def num_quantizers(self) -> int:
        return self.residual_transformer.config.num_quantizers
