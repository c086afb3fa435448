"""Text -> motion length, as MoMask's length estimator: a small MLP classifying the token count.

The output is a distribution over token counts 0..n_classes-1 (frames = tokens * 4); generation
samples from it (or takes its most likely value in greedy mode).
"""


import torch
import torch.nn.functional as F
from keymask.core.models.configs import LengthEstimatorConfig
from keymask.core.models.persistence import SavesPretrained
from torch import nn


def _block(in_dim: int, out_dim: int, dropout: float) -> list[nn.Module]:
    layers = [nn.Dropout(dropout)] if dropout else []
    return layers + [nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim), nn.LeakyReLU(0.2)]


class LengthEstimator(SavesPretrained, nn.Module):
    config_class = LengthEstimatorConfig
    kind = "length_estimator"

    def __init__(self, config: LengthEstimatorConfig):
        super().__init__()
        self.config = config
        h = config.hidden_dim
        # Same layer order as the official module, so its `output.{i}` weights map one to one.
        self.output = nn.Sequential(
            *_block(config.text_dim, h, 0.0),
            *_block(h, h // 2, config.dropout),
            *_block(h // 2, h // 4, config.dropout),
            nn.Linear(h // 4, config.n_classes),
        )

    def forward(self, text_embedding: torch.Tensor) -> torch.Tensor:
        return self.output(text_embedding)  # (B, n_classes) logits over token counts

    def loss(self, text_embedding: torch.Tensor, token_counts: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self(text_embedding), token_counts.clamp(max=self.config.n_classes - 1))

    @torch.no_grad()
    def sample_token_counts(self, text_embedding: torch.Tensor, *, greedy: bool = False,
                            generator: torch.Generator | None = None, minimum: int = 1) -> torch.Tensor:
        """(B,) token counts, at least `minimum`."""
        logits = self(text_embedding)
        logits[:, :minimum] = float("-inf")
        if greedy:
            return logits.argmax(-1)
        return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)
