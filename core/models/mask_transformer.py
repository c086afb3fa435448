"""MoMask's masked transformer: text embedding + partly masked base-layer tokens -> token logits.

The sequence the encoder sees is one condition slot followed by the N motion tokens:

    [cond(text), tok_0, ..., tok_{N-1}]   (B, 1 + N, D), padding positions masked out as keys

Token ids 0..num_tokens-1 are RVQ codes of quantizer layer 0, `num_tokens` is the mask id and
`num_tokens + 1` the pad id. Logits are batch first, (B, N, num_tokens): the official
`trans_forward` returns (B, num_tokens, N).

Training (`training_loss`) follows the official recipe: a cosine schedule picks how many tokens to
hide, BERT-style corruption replaces 10% of them with random ids, about 79% with the mask id and
leaves the rest, and the text condition is dropped with probability `cond_drop_prob` so that one
model gives both the conditional and the unconditional logits for classifier-free guidance.
The text encoder is not part of the model: it takes a (B, text_dim) embedding.

The small blocks below are shared with the residual transformer.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from keymask.core.models.configs import MaskTransformerConfig
from keymask.core.models.persistence import SavesPretrained
from torch import Tensor, nn

# ----------------------------------------------------------------------------------------------
# Blocks


class SinusoidalPositions(nn.Module):
    """Adds the fixed sine/cosine table of MDM and MoMask to token features, then dropout."""

    def __init__(self, dim: int, max_len: int, dropout: float):
        super().__init__()
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)  # (max_len, 1)
        frequency = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))  # (dim / 2,)
        table = torch.zeros(max_len, dim)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency)
        self.register_buffer("table", table, persistent=False)  # (max_len, D): computed, never stored
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, N, D) -> (B, N, D)
        return self.dropout(x + self.table[: x.shape[1]])


class Encoder(nn.TransformerEncoder):
    """Post-norm GELU transformer encoder, exactly as the official models build it, called batch first.

    The layers run sequence first (batch_first=False) as in the official code, so PyTorch takes the
    same (non fast-path) route and padding positions are computed, not zeroed.
    """

    def __init__(self, dim: int, n_heads: int, ff_size: int, n_layers: int, dropout: float):
        layer = nn.TransformerEncoderLayer(dim, n_heads, dim_feedforward=ff_size, dropout=dropout,
                                           activation="gelu")
        super().__init__(layer, num_layers=n_layers, enable_nested_tensor=False)

    def forward(self, x: Tensor, padding_mask: Tensor) -> Tensor:  # (B, L, D), (B, L) True on padding
        x = x.transpose(0, 1).contiguous()  # (B, L, D) -> (L, B, D)
        x = super().forward(x, src_key_padding_mask=padding_mask)
        return x.transpose(0, 1)  # (L, B, D) -> (B, L, D)


class PredictionHead(nn.Module):
    """BERT's prediction head: dense -> GELU -> LayerNorm (eps 1e-12) -> linear."""

    def __init__(self, dim: int, out_dim: int):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.out = nn.Linear(dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:  # (B, N, D) -> (B, N, out_dim)
        return self.out(self.norm(F.gelu(self.dense(x))))


def init_weights(module: nn.Module) -> None:
    """The official initialisation: linear and embedding weights N(0, 0.02), zero biases, unit LayerNorm."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        module.weight.data.normal_(mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()
    elif isinstance(module, nn.LayerNorm):
        module.weight.data.fill_(1.0)
        module.bias.data.zero_()


def padding_from_lengths(lengths: Tensor, n: int) -> Tensor:  # (B,) -> (B, n), True on padding
    return torch.arange(n, device=lengths.device)[None, :] >= lengths[:, None]


def drop_text(text_embedding: Tensor, drop_condition: bool | Tensor) -> Tensor:
    """Zero the text embedding of every sample (True), none (False) or those flagged in a (B,) bool tensor."""
    if isinstance(drop_condition, Tensor):
        return torch.where(drop_condition[:, None], torch.zeros_like(text_embedding), text_embedding)
    return torch.zeros_like(text_embedding) if drop_condition else text_embedding


def cosine_schedule(t: Tensor) -> Tensor:
    """Fraction of tokens kept masked at time t in [0, 1]: 1 at t=0, 0 at t=1."""
    return torch.cos(t * math.pi * 0.5)


@dataclass
class TokenLoss:
    loss: Tensor  # () cross-entropy over the predicted positions
    accuracy: Tensor  # () fraction of predicted positions whose most likely id is the target


def token_loss(logits: Tensor, targets: Tensor, ignore_id: int) -> TokenLoss:  # (B, N, V), (B, N)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_id)
    counted = targets != ignore_id
    correct = (logits.argmax(-1) == targets) & counted
    return TokenLoss(loss, correct.sum() / counted.sum().clamp(min=1))


# ----------------------------------------------------------------------------------------------
# Model


class MaskTransformer(SavesPretrained, nn.Module):
    config_class = MaskTransformerConfig
    kind = "mask_transformer"

    def __init__(self, config: MaskTransformerConfig):
        super().__init__()
        self.config = config
        self.mask_id = config.num_tokens
        self.pad_id = config.num_tokens + 1
        self.token_emb = nn.Embedding(config.num_tokens + 2, config.code_dim)
        self.input_proj = nn.Linear(config.code_dim, config.latent_dim)
        self.cond_proj = nn.Linear(config.text_dim, config.latent_dim)
        self.positions = SinusoidalPositions(config.latent_dim, config.max_len, config.dropout)
        self.encoder = Encoder(config.latent_dim, config.n_heads, config.ff_size, config.n_layers, config.dropout)
        self.head = PredictionHead(config.latent_dim, config.num_tokens)
        self.apply(init_weights)

    def forward(self, ids: Tensor, text_embedding: Tensor, padding_mask: Tensor, *,
                drop_condition: bool | Tensor = False) -> Tensor:
        """Logits (B, N, num_tokens) for ids (B, N), text (B, text_dim), padding_mask (B, N) True on padding.

        drop_condition: True, or a (B,) bool tensor, replaces the text by zeros (the unconditional branch).
        """
        text = drop_text(text_embedding, drop_condition)
        x = self.positions(self.input_proj(self.token_emb(ids)))  # (B, N, D)
        cond = self.cond_proj(text).unsqueeze(1)  # (B, 1, D)
        padding = torch.cat([padding_mask.new_zeros(padding_mask.shape[0], 1), padding_mask], dim=1)  # (B, 1 + N)
        h = self.encoder(torch.cat([cond, x], dim=1), padding)[:, 1:]  # (B, 1 + N, D) -> (B, N, D)
        return self.head(h)

    def guided_logits(self, ids: Tensor, text_embedding: Tensor, padding_mask: Tensor,
                      guidance_scale: float) -> Tensor:
        """Classifier-free guidance, uncond + scale * (cond - uncond), with both branches in one batch."""
        if guidance_scale == 1:
            return self(ids, text_embedding, padding_mask)
        b = ids.shape[0]
        drop = torch.arange(2 * b, device=ids.device) >= b  # first half conditional, second half not
        logits = self(ids.repeat(2, 1), text_embedding.repeat(2, 1), padding_mask.repeat(2, 1), drop_condition=drop)
        cond, uncond = logits[:b], logits[b:]  # (2B, N, V) -> 2 x (B, N, V)
        return uncond + (cond - uncond) * guidance_scale

    def training_loss(self, ids: Tensor, text_embedding: Tensor, lengths: Tensor, *,
                      generator: torch.Generator | None = None) -> TokenLoss:
        """The official masked-token loss for base-layer ids (B, N) of motions `lengths` (B,) tokens long."""
        b, n = ids.shape
        device = ids.device

        def uniform(*shape: int) -> Tensor:
            return torch.rand(shape, generator=generator, device=device)

        real = ~padding_from_lengths(lengths, n)  # (B, N)
        ids = torch.where(real, ids, self.pad_id)

        # Hide a cosine-scheduled number of tokens, at least one, never padding.
        hidden_count = (n * cosine_schedule(uniform(b))).round().clamp(min=1)  # (B,)
        hidden = (uniform(b, n).argsort(dim=-1) < hidden_count[:, None]) & real  # (B, N)
        targets = torch.where(hidden, ids, self.mask_id)  # the mask id marks positions without a target

        # BERT corruption of the hidden tokens: 10% random ids, then 88% of the rest the mask id.
        random_ids = hidden & (uniform(b, n) < 0.1)
        masked = hidden & ~random_ids & (uniform(b, n) < 0.88)
        drawn = torch.randint(0, self.config.num_tokens, (b, n), generator=generator, device=device)
        x = torch.where(random_ids, drawn, ids)
        x = torch.where(masked, self.mask_id, x)

        drop = (uniform(b) < self.config.cond_drop_prob) if self.training else False
        logits = self(x, text_embedding, ~real, drop_condition=drop)  # (B, N, V)
        return token_loss(logits, targets, ignore_id=self.mask_id)
