"""The text-motion evaluator: two encoders trained contrastively into one embedding space.

It plays the part of the HumanML3D evaluator (Guo et al. 2022), whose embeddings FID,
R-precision, matching score, diversity and multimodality are computed on. The motion side is a
strided convolution (4 frames per step, like the tokenizer) and a small transformer, pooled over
the valid steps; the text side is an MLP over the packaged sentence encoder's embedding. Both
end on the unit sphere. It is trained on the training split only (train_evaluator.py).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from keymask.core.models.persistence import SavesPretrained
from keymask.core.spec import HUMANML3D


@dataclass
class EvaluatorConfig:
    input_dim: int = HUMANML3D.n_features  # motion features per frame (normalised)
    text_dim: int = 384  # sentence-encoder embedding width
    hidden_dim: int = 192
    n_layers: int = 2
    n_heads: int = 4
    embed_dim: int = 256
    max_frames: int = HUMANML3D.max_frames
    dropout: float = 0.1
    temperature: float = 0.07  # of the contrastive softmax


class MotionEncoder(nn.Module):
    """features (B, T, D), lengths (B,) frames -> (B, embed_dim) unit vectors."""

    frames_per_step = 4

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        h = config.hidden_dim
        self.downsample = nn.ModuleList([nn.Conv1d(config.input_dim, h, 4, stride=2, padding=1),
                                         nn.Conv1d(h, h, 4, stride=2, padding=1)])
        self.position = nn.Parameter(torch.zeros(config.max_frames // self.frames_per_step + 1, h))
        layer = nn.TransformerEncoderLayer(h, config.n_heads, 2 * h, config.dropout, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(h)
        self.project = nn.Linear(h, config.embed_dim)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x, valid_length = features.transpose(1, 2), lengths  # (B, D, T)
        for conv in self.downsample:  # each halves the time axis
            x = F.leaky_relu(conv(x), 0.2)
            valid_length = (valid_length + 1) // 2
            # Zero what lies past the motion, so that padding never leaks into valid steps.
            x = x * (torch.arange(x.shape[-1], device=x.device)[None] < valid_length[:, None])[:, None]
        steps = x.transpose(1, 2)  # (B, N, h), N = T / 4
        n = steps.shape[1]
        steps = steps + self.position[:n]
        valid = torch.arange(n, device=features.device)[None] < valid_length[:, None]  # (B, N)
        hidden = self.norm(self.transformer(steps, src_key_padding_mask=~valid))
        pooled = (hidden * valid[..., None]).sum(1) / valid.sum(1, keepdim=True).clamp(min=1)  # (B, h)
        return F.normalize(self.project(pooled), dim=-1)


class TextProjector(nn.Module):
    """sentence embeddings (B, text_dim) -> (B, embed_dim) unit vectors."""

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(config.text_dim, 2 * config.hidden_dim), nn.GELU(), nn.Dropout(config.dropout),
            nn.Linear(2 * config.hidden_dim, config.embed_dim),
        )

    def forward(self, text_embedding: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(text_embedding), dim=-1)


@dataclass
class ContrastiveResult:
    loss: torch.Tensor
    accuracy: torch.Tensor  # share of texts whose own motion scores highest among the batch's


class MotionTextEvaluator(SavesPretrained, nn.Module):
    config_class = EvaluatorConfig
    kind = "motion_text_evaluator"

    def __init__(self, config: EvaluatorConfig):
        super().__init__()
        self.config = config
        self.motion_encoder = MotionEncoder(config)
        self.text_encoder = TextProjector(config)
        # The training data's feature statistics travel with the weights, so that the evaluator
        # takes raw features and judges every model on the same scale.
        self.register_buffer("feature_mean", torch.zeros(config.input_dim))
        self.register_buffer("feature_std", torch.ones(config.input_dim))

    def set_statistics(self, mean, std) -> None:
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feature_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def encode_motion(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """raw (un-normalised) features (B, T, D), lengths (B,) frames -> (B, E); frames past a
        motion's length are ignored."""
        normalised = (features - self.feature_mean) / self.feature_std
        valid = torch.arange(features.shape[1], device=features.device)[None] < lengths[:, None]
        return self.motion_encoder(normalised * valid[..., None], lengths)

    def encode_text(self, text_embedding: torch.Tensor) -> torch.Tensor:
        return self.text_encoder(text_embedding)

    def contrastive_loss(self, features: torch.Tensor, lengths: torch.Tensor, text_embedding: torch.Tensor,
                         labels: torch.Tensor) -> ContrastiveResult:
        """Symmetric InfoNCE over the batch. labels (B,) name what each pair shows (content and
        style): other pairs with the same label are not counted as negatives, since their captions
        describe this motion equally well."""
        motion = self.encode_motion(features, lengths)  # (B, E)
        text = self.encode_text(text_embedding)  # (B, E)
        logits = text @ motion.t() / self.config.temperature  # (B texts, B motions)
        same = labels[:, None] == labels[None, :]
        own = torch.eye(len(labels), dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(same & ~own, float("-inf"))
        targets = torch.arange(len(labels), device=logits.device)
        loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2
        accuracy = (logits.argmax(-1) == targets).float().mean()
        return ContrastiveResult(loss, accuracy)
