"""A small BERT sentence encoder (all-MiniLM-L6-v2 shape), written for fast start-up.

Loading transformers takes seconds; this module needs only torch, safetensors and the
`tokenizers` library. It reads a Hugging Face BERT checkpoint (`config.json`,
`model.safetensors`, `tokenizer.json`) and computes the sentence-transformers recipe:
BERT -> mean of the token states over the attention mask -> L2 normalisation.
Weight names are Hugging Face's (`encoder.layer.{i}.attention.self.query.weight`, ...).
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from keymask.core.text.numpy_minilm import BertConfig


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.n_heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape  # (B, L, C) L = tokens

        def heads(t):
            return t.view(b, n, self.n_heads, c // self.n_heads).transpose(1, 2)  # (B, H, L, C/H)

        out = F.scaled_dot_product_attention(heads(self.query(x)), heads(self.key(x)), heads(self.value(x)),
                                             attn_mask=attention_bias)
        return out.transpose(1, 2).reshape(b, n, c)  # (B, L, C)


class BertLayer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = nn.Module()
        self.attention.self = BertSelfAttention(config)
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.attention.output.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.output = nn.Module()
        self.output.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor) -> torch.Tensor:
        attended = self.attention.output.dense(self.attention.self(x, attention_bias))
        x = self.attention.output.LayerNorm(x + attended)
        hidden = F.gelu(self.intermediate.dense(x))  # BERT's exact (erf) GELU
        return self.output.LayerNorm(x + self.output.dense(hidden))


class BertEncoder(nn.Module):
    """Token ids (B, L) -> token states (B, L, C). Module names match Hugging Face's BertModel."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embeddings.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.embeddings.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.embeddings.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        e = self.embeddings
        x = e.word_embeddings(ids) + e.position_embeddings(positions) + e.token_type_embeddings(torch.zeros_like(ids))
        x = e.LayerNorm(x)
        # (B, 1, 1, L): padding keys get a large negative bias
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L, C), (B, L) -> (B, C) mean over the real tokens."""
    weights = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class SentenceEncoderModel:
    """BERT + mean pooling + L2 normalisation from a local sentence-transformers folder."""

    def __init__(self, folder: Path, max_tokens: int = 256):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.config = BertConfig.from_json(folder / "config.json")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.model = BertEncoder(self.config).eval()
        state = {k: v for k, v in load_file(folder / "model.safetensors").items()
                 if not k.startswith(("pooler.", "embeddings.position_ids"))}
        self.model.load_state_dict(state, strict=True)
        self.dim = self.config.hidden_size

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        batch = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([b.ids for b in batch])  # (B, L)
        mask = torch.tensor([b.attention_mask for b in batch])  # (B, L)
        pooled = mean_pool(self.model(ids, mask), mask)
        return F.normalize(pooled, dim=-1)  # (B, C)


