"""MoMask's residual transformer: predicts the ids of quantizer layer j from the layers below it.

Input: the sum of the code embeddings of layers 0..j-1 (B, N, code_dim), the layer index j and the
text embedding. The encoder sees

    [cond(text), layer(j), h_0, ..., h_{N-1}]   (B, 2 + N, D), padding positions masked out as keys

and the head maps each position back to code_dim; logits are dot products with the output table of
layer j, over num_tokens + 1 ids (the last one, `num_tokens`, is the pad id). Logits are batch first,
(B, N, num_tokens + 1); the official `output_project` returns (B, num_tokens + 1, N).

Token tables (Q quantizer layers, V = num_tokens + 1 rows each, C = code_dim):
- embedding table j (j = 0..Q-2) embeds the ids of layer j;
- output table j-1 (j = 1..Q-1) scores the ids of layer j.
`share_weight` ties output table j-1 to embedding table j (the first embedding table and the last
output table stay separate, no output bias); `shared_codebook` uses one table for every layer.
Without `share_weight` each output table has a bias, and (as in the official code) the bias is
added after the projection is doubled: logits = 2 * (h . W) + bias.
"""


import torch
import torch.nn.functional as F
from keymask.core.models.configs import ResidualTransformerConfig
from keymask.core.models.mask_transformer import (
    Encoder,
    PredictionHead,
    SinusoidalPositions,
    TokenLoss,
    cosine_schedule,
    drop_text,
    init_weights,
    padding_from_lengths,
    token_loss,
)
from keymask.core.models.persistence import SavesPretrained
from torch import Tensor, nn


def _table(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(*shape) * 0.02)


class ResidualTransformer(SavesPretrained, nn.Module):
    config_class = ResidualTransformerConfig
    kind = "residual_transformer"

    def __init__(self, config: ResidualTransformerConfig):
        super().__init__()
        if config.num_quantizers < 2:
            raise ValueError("A residual transformer needs at least two quantizer layers.")
        self.config = config
        self.pad_id = config.num_tokens
        q, v, c = config.num_quantizers, config.num_tokens + 1, config.code_dim
        self.input_proj = nn.Linear(c, config.latent_dim)
        self.layer_emb = nn.Linear(q, config.latent_dim)  # applied to the one-hot layer index
        self.cond_proj = nn.Linear(config.text_dim, config.latent_dim)
        self.positions = SinusoidalPositions(config.latent_dim, config.max_len, config.dropout)
        self.encoder = Encoder(config.latent_dim, config.n_heads, config.ff_size, config.n_layers, config.dropout)
        self.head = PredictionHead(config.latent_dim, c)
        if config.shared_codebook:
            self.shared_table = _table(v, c)  # (V, C)
            if not config.share_weight:
                self.shared_output = _table(v, c)  # (V, C)
                self.shared_output_bias = nn.Parameter(torch.zeros(v))  # (V,)
        elif config.share_weight:
            self.first_embedding = _table(1, v, c)  # embeds layer 0
            self.tied_tables = _table(q - 2, v, c)  # embed layer j and score layer j, j = 1..Q-2
            self.last_output = _table(1, v, c)  # scores layer Q-1
        else:
            self.embeddings = _table(q - 1, v, c)
            self.outputs = _table(q - 1, v, c)
            self.output_bias = nn.Parameter(torch.zeros(q, v))  # (Q, V): row Q-1 is never used, as official
        self.apply(init_weights)

    def embedding_tables(self) -> Tensor:  # (Q-1, V, C): table j embeds the ids of layer j
        q = self.config.num_quantizers
        if self.config.shared_codebook:
            return self.shared_table.expand(q - 1, -1, -1)
        if self.config.share_weight:
            return torch.cat([self.first_embedding, self.tied_tables], dim=0)
        return self.embeddings

    def output_tables(self) -> tuple[Tensor, Tensor | None]:  # (Q-1, V, C), (Q-1 or Q, V) or None
        """Table j-1 (and bias row j-1) score the ids of layer j."""
        q = self.config.num_quantizers
        if self.config.shared_codebook:
            if self.config.share_weight:
                return self.shared_table.expand(q - 1, -1, -1), None
            return self.shared_output.expand(q - 1, -1, -1), self.shared_output_bias.expand(q - 1, -1)
        if self.config.share_weight:
            return torch.cat([self.tied_tables, self.last_output], dim=0), None
        return self.outputs, self.output_bias

    def history_embedding(self, ids: Tensor) -> Tensor:
        """Sum of the code embeddings of layers 0..L-1 for ids (B, N, L); -1 counts as padding -> (B, N, C)."""
        ids = torch.where(ids < 0, self.pad_id, ids)
        tables = self.embedding_tables()
        history = tables[0][ids[..., 0]]
        for j in range(1, ids.shape[-1]):
            history = history + tables[j][ids[..., j]]
        return history

    def forward(self, history: Tensor, layer: int | Tensor, text_embedding: Tensor, padding_mask: Tensor, *,
                drop_condition: bool | Tensor = False) -> Tensor:
        """Logits (B, N, num_tokens + 1) of layer `layer` (int or (B,) in 1..Q-1) given history (B, N, C).

        padding_mask (B, N) is True on padding; drop_condition as in MaskTransformer.forward.
        """
        b = history.shape[0]
        layers = layer if isinstance(layer, Tensor) else torch.full((b,), layer, dtype=torch.long,
                                                                     device=history.device)
        text = drop_text(text_embedding, drop_condition)
        x = self.positions(self.input_proj(history))  # (B, N, D)
        layer_token = self.layer_emb(F.one_hot(layers, self.config.num_quantizers).float()).unsqueeze(1)  # (B, 1, D)
        cond = self.cond_proj(text).unsqueeze(1)  # (B, 1, D)
        padding = torch.cat([padding_mask.new_zeros(b, 2), padding_mask], dim=1)  # (B, 2 + N)
        h = self.encoder(torch.cat([cond, layer_token, x], dim=1), padding)[:, 2:]  # (B, 2 + N, D) -> (B, N, D)
        h = self.head(h)  # (B, N, C)
        weights, bias = self.output_tables()
        if isinstance(layer, Tensor):  # a layer per sample (training): each sample scored by its own table
            logits = torch.einsum("bnc,bvc->bnv", h, weights[layers - 1])  # (B, N, C) x (B, V, C) -> (B, N, V)
        else:  # one layer for all (generation): one matmul, no (B, V, C) copy of the table
            logits = h @ weights[layer - 1].T  # (B, N, C) x (C, V) -> (B, N, V)
        if bias is not None:
            logits = logits + (logits + bias[layers - 1].unsqueeze(1))  # the official doubling, kept for parity
        return logits

    def guided_logits(self, history: Tensor, layer: int | Tensor, text_embedding: Tensor, padding_mask: Tensor,
                      guidance_scale: float) -> Tensor:
        """Classifier-free guidance, uncond + scale * (cond - uncond), with both branches in one batch."""
        if guidance_scale == 1:
            return self(history, layer, text_embedding, padding_mask)
        b = history.shape[0]
        if isinstance(layer, Tensor):
            layer = layer.repeat(2)
        drop = torch.arange(2 * b, device=history.device) >= b  # first half conditional, second half not
        logits = self(history.repeat(2, 1, 1), layer, text_embedding.repeat(2, 1), padding_mask.repeat(2, 1),
                      drop_condition=drop)
        cond, uncond = logits[:b], logits[b:]  # (2B, N, V) -> 2 x (B, N, V)
        return uncond + (cond - uncond) * guidance_scale

    def training_loss(self, all_ids: Tensor, text_embedding: Tensor, lengths: Tensor, *,
                      generator: torch.Generator | None = None) -> TokenLoss:
        """The official loss for all-layer ids (B, N, Q): one random layer j >= 1 per sample, from layers < j."""
        b, n, q = all_ids.shape
        device = all_ids.device
        real = ~padding_from_lengths(lengths, n)  # (B, N)
        ids = torch.where(real[..., None], all_ids, self.pad_id)  # (B, N, Q)

        # Layers 1..Q-1, drawn so that low layers come more often: round((1 - cos(u pi / 2)) (Q - 2)) + 1.
        u = torch.rand(b, generator=generator, device=device)
        layer = torch.round((1 - cosine_schedule(u)) * (q - 2)).long() + 1  # (B,)

        tables = self.embedding_tables()  # (Q-1, V, C)
        codes = tables[torch.arange(q - 1, device=device), ids[..., :-1]]  # (B, N, Q-1, C)
        batch = torch.arange(b, device=device)
        history = codes.cumsum(dim=2)[batch, :, layer - 1]  # (B, N, C): layers 0..j-1 summed
        targets = ids[batch, :, layer]  # (B, N)

        drop = (torch.rand(b, generator=generator, device=device) < self.config.cond_drop_prob) if self.training \
            else False
        logits = self(history, layer, text_embedding, ~real, drop_condition=drop)
        return token_loss(logits, targets, ignore_id=self.pad_id)

