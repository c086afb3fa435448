"""The four inference models in numpy, built from a config and a state dict of numpy arrays.

    NumpyRVQVAE               core/models/rvq_vae.py + quantizer.py: encode (nearest codes), decode
    NumpyMaskTransformer      core/models/mask_transformer.py: forward, guided_logits
    NumpyResidualTransformer  core/models/residual_transformer.py: embedding_tables, forward, guided_logits
    NumpyLengthEstimator      core/models/length_estimator.py: logits

Each computes what the torch module computes in eval mode (no dropout, no sampling, no codebook
update) to float32 rounding, from the same weights under the same names: the state dict keys of
the torch module, or the `model.safetensors` it saves (`from_folder`). Loading is as strict as
the torch side's (`load_state_strict`): every key, no other, every shape. Whatever can be worked
out once is worked out at load: transposed linear weights, token embeddings already projected,
the layer tokens, the output tables. Nothing here imports torch, so generation starts fast.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
from keymask.core.backends.numpy_ops import (
    FLOAT,
    activation,
    as_float,
    batch_norm,
    conv1d,
    gelu,
    group_norm,
    layer_norm,
    leaky_relu,
    linear,
    self_attention,
    sinusoidal_positions,
    transposed,
    upsample_nearest2,
)
from keymask.core.models.configs import (
    LengthEstimatorConfig,
    MaskTransformerConfig,
    ResidualTransformerConfig,
    RVQVAEConfig,
)
from keymask.core.models.saved import WEIGHTS_FILE, CheckpointError, read_config, read_numpy_weights

Layer = Callable[[np.ndarray], np.ndarray]

# ----------------------------------------------------------------------------------------------
# Reading a state dict strictly


def _more(names: list[str]) -> str:
    return f" (and {len(names) - 1} more)" if len(names) > 1 else ""


class StateReader:
    """Hands out the arrays of a state dict by name and records every name and shape asked for.

    A model is built by asking for each of its weights in the torch state dict's order; `check`
    then compares what was asked for with what the state holds. A missing or misshapen weight
    reads as zeros of the expected shape meanwhile, so building never fails before `check`
    names the problem.
    """

    def __init__(self, state: Mapping[str, np.ndarray]):
        self.state = state
        self.expected: dict[str, tuple[int, ...]] = {}

    def array(self, name: str, *shape: int) -> np.ndarray:
        """The float32 weight `name`, which must have `shape`."""
        self.expected[name] = shape
        value = self.state.get(name)
        if value is None or tuple(np.shape(value)) != shape:
            return np.zeros(shape, dtype=FLOAT)
        return as_float(value)

    def require(self, name: str, *shape: int) -> None:
        """A key of the torch state dict that inference does not use (e.g. num_batches_tracked)."""
        self.expected[name] = shape

    def check(self, source: str) -> None:
        """CheckpointError naming `source` and the first missing, unexpected or misshapen key."""
        missing = [k for k in self.expected if k not in self.state]
        unexpected = [k for k in self.state if k not in self.expected]
        if missing:
            raise CheckpointError(f"The checkpoint {source} lacks the weight '{missing[0]}'{_more(missing)}: "
                                  "it was made for another model or configuration.")
        if unexpected:
            raise CheckpointError(f"The checkpoint {source} has an unexpected weight '{unexpected[0]}'"
                                  f"{_more(unexpected)}: it was made for another model or configuration.")
        for name, value in self.state.items():
            if tuple(np.shape(value)) != self.expected[name]:
                raise CheckpointError(f"The checkpoint {source} has '{name}' of shape {tuple(np.shape(value))}, "
                                      f"but the configuration needs {self.expected[name]}.")


class _LoadsState:
    """from_state / from_folder for a model class whose constructor takes (config, StateReader)."""

    kind: ClassVar[str]
    config_class: ClassVar[type]

    @classmethod
    def from_state(cls, config, state: Mapping[str, np.ndarray], source: str = "the state dict"):
        """The model for `config` with the weights of `state` (torch state dict keys, numpy arrays)."""
        reader = StateReader(state)
        model = cls(config, reader)
        reader.check(source)
        return model

    @classmethod
    def from_folder(cls, folder: str | Path):
        """The model saved in `folder` by the torch module's `save_pretrained`."""
        config = read_config(folder, cls.kind, cls.config_class)
        return cls.from_state(config, read_numpy_weights(folder), str(Path(folder) / WEIGHTS_FILE))


# ----------------------------------------------------------------------------------------------
# Layers


class _Linear:
    """nn.Linear(in_dim, out_dim) at `prefix`."""

    def __init__(self, reader: StateReader, prefix: str, in_dim: int, out_dim: int):
        self.weight_t = transposed(reader.array(f"{prefix}.weight", out_dim, in_dim))  # (in, out)
        self.bias = reader.array(f"{prefix}.bias", out_dim)  # (out,)

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (..., in) -> (..., out)
        return linear(x, self.weight_t, self.bias)


class _LayerNorm:
    """nn.LayerNorm(dim, eps) at `prefix`, over the last axis."""

    def __init__(self, reader: StateReader, prefix: str, dim: int, eps: float = 1e-5):
        self.weight = reader.array(f"{prefix}.weight", dim)
        self.bias = reader.array(f"{prefix}.bias", dim)
        self.eps = eps

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (..., dim) -> (..., dim)
        return layer_norm(x, self.weight, self.bias, self.eps)


class _Conv1d:
    """nn.Conv1d(in_channels, out_channels, kernel, stride, padding, dilation) at `prefix`."""

    def __init__(self, reader: StateReader, prefix: str, in_channels: int, out_channels: int, kernel: int, *,
                 stride: int = 1, padding: int = 0, dilation: int = 1):
        self.weight = reader.array(f"{prefix}.weight", out_channels, in_channels, kernel)  # (C_out, C_in, K)
        self.bias = reader.array(f"{prefix}.bias", out_channels)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (B, C_in, T) -> (B, C_out, T_out)
        return conv1d(x, self.weight, self.bias, stride=self.stride, padding=self.padding, dilation=self.dilation)


def _relu_layer(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, FLOAT(0))


def _identity(x: np.ndarray) -> np.ndarray:
    return x


class _ChannelLayerNorm(_LayerNorm):
    """LayerNorm over the channels of (B, C, T), as ResConv1DBlock applies it ("LN")."""

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (B, C, T) -> (B, T, C) -> (B, C, T)
        return super().__call__(x.transpose(0, 2, 1)).transpose(0, 2, 1)


class _GroupNorm:
    """nn.GroupNorm(32, channels, eps=1e-6) at `prefix` ("GN")."""

    def __init__(self, reader: StateReader, prefix: str, channels: int):
        self.weight = reader.array(f"{prefix}.weight", channels)
        self.bias = reader.array(f"{prefix}.bias", channels)

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (B, C, T) -> (B, C, T)
        return group_norm(x, 32, self.weight, self.bias, eps=1e-6)


class _BatchNorm:
    """nn.BatchNorm1d(channels, eps=1e-6) at `prefix`, in eval mode ("BN")."""

    def __init__(self, reader: StateReader, prefix: str, channels: int):
        self.weight = reader.array(f"{prefix}.weight", channels)
        self.bias = reader.array(f"{prefix}.bias", channels)
        self.running_mean = reader.array(f"{prefix}.running_mean", channels)
        self.running_var = reader.array(f"{prefix}.running_var", channels)
        reader.require(f"{prefix}.num_batches_tracked")

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (B, C, T) -> (B, C, T)
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, eps=1e-6)


def _channel_norm(name: str | None, reader: StateReader, prefix: str, channels: int) -> Layer:
    """The norm of a residual block, as rvq_vae.make_norm builds it."""
    if name is None:
        return _identity
    if name == "LN":
        return _ChannelLayerNorm(reader, prefix, channels)
    if name == "GN":
        return _GroupNorm(reader, prefix, channels)
    if name == "BN":
        return _BatchNorm(reader, prefix, channels)
    raise ValueError(f"Unknown norm {name!r}: expected None, 'LN', 'GN' or 'BN'.")


# ----------------------------------------------------------------------------------------------
# RVQ-VAE


class _ResBlock:
    """ResConv1DBlock: x + conv1x1(act(norm2(dilated conv3(act(norm1(x))))))."""

    def __init__(self, reader: StateReader, prefix: str, channels: int, dilation: int, config: RVQVAEConfig):
        self.norm1 = _channel_norm(config.norm, reader, f"{prefix}.norm1", channels)
        self.norm2 = _channel_norm(config.norm, reader, f"{prefix}.norm2", channels)
        self.conv1 = _Conv1d(reader, f"{prefix}.conv1", channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = _Conv1d(reader, f"{prefix}.conv2", channels, channels, 1)
        self.activation = activation(config.activation)

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (B, C, T) -> (B, C, T)
        h = self.conv1(self.activation(self.norm1(x)))
        h = self.conv2(self.activation(self.norm2(h)))
        return x + h


def _resnet(reader: StateReader, prefix: str, config: RVQVAEConfig) -> list[Layer]:
    """Resnet1D at `prefix`: depth blocks, dilations growth ** (depth - 1) down to 1."""
    dilations = [config.dilation_growth_rate ** level for level in reversed(range(config.depth))]
    return [_ResBlock(reader, f"{prefix}.model.{i}", config.width, dilation, config)
            for i, dilation in enumerate(dilations)]


def _encoder(reader: StateReader, config: RVQVAEConfig) -> list[Layer]:
    """rvq_vae.Encoder as a list of layers: (B, D, T) -> (B, C, T / stride_t ** down_t)."""
    width, stride = config.width, config.stride_t
    layers: list[Layer] = [_Conv1d(reader, "encoder.model.0", config.input_dim, width, 3, padding=1), _relu_layer]
    for stage in range(config.down_t):
        prefix = f"encoder.model.{2 + stage}"
        layers.append(_Conv1d(reader, f"{prefix}.0", width, width, 2 * stride, stride=stride, padding=stride // 2))
        layers += _resnet(reader, f"{prefix}.1", config)
    layers.append(_Conv1d(reader, f"encoder.model.{2 + config.down_t}", width, config.code_dim, 3, padding=1))
    return layers


def _decoder(reader: StateReader, config: RVQVAEConfig) -> list[Layer]:
    """rvq_vae.Decoder as a list of layers: (B, C, N) -> (B, D, N * 2 ** down_t)."""
    width, last = config.width, 2 + config.down_t
    layers: list[Layer] = [_Conv1d(reader, "decoder.model.0", config.code_dim, width, 3, padding=1), _relu_layer]
    for stage in range(config.down_t):
        prefix = f"decoder.model.{2 + stage}"
        layers += _resnet(reader, f"{prefix}.0", config)
        layers += [upsample_nearest2, _Conv1d(reader, f"{prefix}.2", width, width, 3, padding=1)]
    layers += [_Conv1d(reader, f"decoder.model.{last}", width, width, 3, padding=1), _relu_layer,
               _Conv1d(reader, f"decoder.model.{last + 2}", width, config.input_dim, 3, padding=1)]
    return layers


def _run(layers: list[Layer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = layer(x)
    return x


class NumpyRVQVAE(_LoadsState):
    """RVQVAE in numpy: motion (B, T, D) <-> ids (B, N, Q), T = N * stride_t ** down_t."""

    kind = "rvq_vae"
    config_class = RVQVAEConfig

    def __init__(self, config: RVQVAEConfig, reader: StateReader):
        """Use from_state or from_folder."""
        self.config = config
        self.encoder = _encoder(reader, config)
        self.decoder = _decoder(reader, config)
        n_modules = 1 if config.shared_codebook else config.num_quantizers
        modules = [reader.array(f"quantizer.layers.{i}.codebook", config.nb_code, config.code_dim)
                   for i in range(n_modules)]
        self.codebooks = [modules[0 if config.shared_codebook else q]
                          for q in range(config.num_quantizers)]  # Q x (nb_code, C)
        self.code_norms = [np.sum(codebook ** 2, axis=1)[None, :] for codebook in self.codebooks]  # Q x (1, nb_code)

    def _nearest_codes(self, q: int, x: np.ndarray) -> np.ndarray:
        """x (M, C) -> indices (M,) of the nearest codes of layer q (CodebookQuantizer.nearest_codes)."""
        distance = (np.sum(x ** 2, axis=-1, keepdims=True) - 2 * (x @ self.codebooks[q].T)
                    + self.code_norms[q])  # (M, nb_code)
        return (-distance).argmax(axis=-1)

    def quantize(self, latent: np.ndarray) -> np.ndarray:
        """latent (B, C, N) -> ids (B, N, Q), as ResidualVQ.quantize."""
        b, c, n = latent.shape
        residual = np.ascontiguousarray(latent.transpose(0, 2, 1)).reshape(b * n, c)  # (B*N, C)
        all_ids = []
        for q, codebook in enumerate(self.codebooks):
            ids = self._nearest_codes(q, residual)  # (B*N,)
            codes = codebook[ids]  # (B*N, C)
            residual = residual - (residual + (codes - residual))  # quantizer.residual_after, same rounding
            all_ids.append(ids.reshape(b, n))
        return np.stack(all_ids, axis=-1).astype(np.int64)

    def encode(self, motion: np.ndarray) -> np.ndarray:
        """Normalised motion (B, T, D) -> ids (B, N, Q)."""
        x = as_float(np.asarray(motion).transpose(0, 2, 1))  # (B, T, D) -> (B, D, T)
        return self.quantize(_run(self.encoder, x))

    def latent_from_ids(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, N, Q' <= Q), -1 contributing nothing -> the sum of their codes (B, C, N)."""
        ids = np.asarray(ids, dtype=np.int64)
        q = self.config.num_quantizers
        if ids.ndim != 3 or ids.shape[-1] > q:
            raise ValueError(f"Expected ids of shape (B, N, Q' <= {q}), got {ids.shape}.")
        safe = np.maximum(ids, 0)
        codes = [np.where((ids[..., j] == -1)[..., None], FLOAT(0), self.codebooks[j][safe[..., j]])
                 for j in range(ids.shape[-1])]  # Q' x (B, N, C); missing layers add nothing
        summed = np.stack(codes).sum(axis=0) if codes else np.zeros(ids.shape[:2] + (self.config.code_dim,), FLOAT)
        return np.ascontiguousarray(summed.transpose(0, 2, 1))  # (B, N, C) -> (B, C, N)

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """ids (B, N, Q' <= Q), -1 contributing nothing -> normalised motion (B, T, D)."""
        return _run(self.decoder, self.latent_from_ids(ids)).transpose(0, 2, 1)  # (B, D, T) -> (B, T, D)


# ----------------------------------------------------------------------------------------------
# Transformer blocks


class _EncoderLayer:
    """nn.TransformerEncoderLayer, post-norm, GELU, eval: x = norm1(x + attn(x)); x = norm2(x + ff(x))."""

    def __init__(self, reader: StateReader, prefix: str, dim: int, n_heads: int, ff_size: int):
        self.n_heads = n_heads
        self.in_weight_t = transposed(reader.array(f"{prefix}.self_attn.in_proj_weight", 3 * dim, dim))  # (D, 3D)
        self.in_bias = reader.array(f"{prefix}.self_attn.in_proj_bias", 3 * dim)
        self.out_proj = _Linear(reader, f"{prefix}.self_attn.out_proj", dim, dim)
        self.linear1 = _Linear(reader, f"{prefix}.linear1", dim, ff_size)
        self.linear2 = _Linear(reader, f"{prefix}.linear2", ff_size, dim)
        self.norm1 = _LayerNorm(reader, f"{prefix}.norm1", dim)
        self.norm2 = _LayerNorm(reader, f"{prefix}.norm2", dim)

    def __call__(self, x: np.ndarray, key_padding: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """(B, L, D), (B, L) True on padding -> (B, L, D); with rows (B, L) bool, only those rows -> (R, D)."""
        attended = self_attention(x, self.n_heads, self.in_weight_t, self.in_bias, self.out_proj.weight_t,
                                  self.out_proj.bias, key_padding, rows)
        x = self.norm1((x if rows is None else x[rows]) + attended)
        hidden = self.linear1(x)
        return self.norm2(x + self.linear2(gelu(hidden, out=hidden)))


class _Encoder:
    """mask_transformer.Encoder: n_layers encoder layers at `encoder.layers.<i>`, batch first."""

    def __init__(self, reader: StateReader, dim: int, n_heads: int, ff_size: int, n_layers: int):
        self.layers = [_EncoderLayer(reader, f"encoder.layers.{i}", dim, n_heads, ff_size) for i in range(n_layers)]

    def __call__(self, x: np.ndarray, key_padding: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """(B, L, D), (B, L) True on padding -> (B, L, D); with rows (B, L) bool, only those rows -> (R, D).

        Every layer but the last needs every position (they are the keys and values of the next one).
        """
        for layer in self.layers[:-1]:
            x = layer(x, key_padding)
        return self.layers[-1](x, key_padding, rows)


class _PredictionHead:
    """mask_transformer.PredictionHead: dense -> GELU -> LayerNorm (eps 1e-12) -> linear."""

    def __init__(self, reader: StateReader, dim: int, out_dim: int):
        self.dense = _Linear(reader, "head.dense", dim, dim)
        self.norm = _LayerNorm(reader, "head.norm", dim, eps=1e-12)
        self.out = _Linear(reader, "head.out", dim, out_dim)

    def __call__(self, x: np.ndarray) -> np.ndarray:  # (B, N, D) -> (B, N, out_dim)
        return self.out(self.norm(gelu(self.dense(x))))


class _Positions:
    """SinusoidalPositions' table, computed up to the longest sequence asked for so far."""

    def __init__(self, dim: int, max_len: int):
        self.dim, self.max_len = dim, max_len
        self.table = np.zeros((0, dim), dtype=FLOAT)

    def __call__(self, n: int) -> np.ndarray:  # -> (n, D)
        if n > self.max_len:
            raise ValueError(f"{n} tokens do not fit the model's {self.max_len} positions.")
        if n > len(self.table):
            self.table = sinusoidal_positions(min(self.max_len, max(n, 2 * len(self.table), 64)), self.dim)
        return self.table[:n]


def _drop_text(text: np.ndarray, drop_condition) -> np.ndarray:
    """Zero the text of every sample (True), none (False) or those flagged in a (B,) bool array."""
    if np.ndim(drop_condition) == 1:
        return np.where(np.asarray(drop_condition, dtype=bool)[:, None], FLOAT(0), text)
    return np.zeros_like(text) if drop_condition else text


def _with_slots(padding: np.ndarray, slots: int) -> np.ndarray:
    """Key padding (B, N) -> (B, slots + N): the condition slots in front are never padding."""
    padding = np.asarray(padding, dtype=bool)
    return np.concatenate([np.zeros((padding.shape[0], slots), dtype=bool), padding], axis=1)


def _guided(cond: np.ndarray, uncond: np.ndarray, guidance_scale: float) -> np.ndarray:
    """Classifier-free guidance of the two branches' logits: uncond + scale * (cond - uncond)."""
    return uncond + (cond - uncond) * FLOAT(guidance_scale)


def _both_branches(b: int) -> np.ndarray:  # (2B,): False for the conditional half, True for the other
    return np.arange(2 * b) >= b


# ----------------------------------------------------------------------------------------------
# Masked transformer


class NumpyMaskTransformer(_LoadsState):
    """MaskTransformer in numpy: base-layer ids (B, N) + text (B, text_dim) -> logits (B, N, num_tokens)."""

    kind = "mask_transformer"
    config_class = MaskTransformerConfig

    def __init__(self, config: MaskTransformerConfig, reader: StateReader):
        """Use from_state or from_folder."""
        self.config = config
        self.mask_id = config.num_tokens
        self.pad_id = config.num_tokens + 1
        d = config.latent_dim
        token_emb = reader.array("token_emb.weight", config.num_tokens + 2, config.code_dim)  # (V + 2, code_dim)
        self.token_features = _Linear(reader, "input_proj", config.code_dim, d)(token_emb)  # (V + 2, D)
        self.cond_proj = _Linear(reader, "cond_proj", config.text_dim, d)
        self.encoder = _Encoder(reader, d, config.n_heads, config.ff_size, config.n_layers)
        self.head = _PredictionHead(reader, d, config.num_tokens)
        self.positions = _Positions(d, config.max_len)

    def forward(self, ids: np.ndarray, text: np.ndarray, padding: np.ndarray, *,
                drop_condition: bool | np.ndarray = False, positions: np.ndarray | None = None) -> np.ndarray:
        """Logits (B, N, num_tokens) for ids (B, N), text (B, text_dim), padding (B, N) True on padding.

        drop_condition: True, or a (B,) bool array, replaces the text by zeros (the unconditional branch).
        positions (B, N) bool: the logits wanted (the rest are 0), so the last layer and the head skip
        the others (masked decoding needs the masked positions only).
        """
        ids = np.asarray(ids)
        b, n = ids.shape
        text = _drop_text(as_float(text), drop_condition)
        x = self.token_features[ids] + self.positions(n)  # (B, N, D)
        cond = self.cond_proj(text)[:, None]  # (B, 1, D)
        key_padding = _with_slots(padding, 1)  # (B, 1 + N)
        if positions is None:
            return self.head(self.encoder(np.concatenate([cond, x], axis=1), key_padding)[:, 1:])  # (B, N, V)
        positions = np.asarray(positions, dtype=bool)
        rows = np.concatenate([np.zeros((b, 1), dtype=bool), positions], axis=1)  # (B, 1 + N)
        logits = np.zeros((b, n, self.config.num_tokens), dtype=FLOAT)
        logits[positions] = self.head(self.encoder(np.concatenate([cond, x], axis=1), key_padding, rows))  # (R, V)
        return logits

    __call__ = forward

    def guided_logits(self, ids: np.ndarray, text: np.ndarray, padding: np.ndarray, guidance_scale: float, *,
                      positions: np.ndarray | None = None) -> np.ndarray:
        """Classifier-free guidance, uncond + scale * (cond - uncond), both branches in one batch.

        The unconditional branch does not see the text, so samples with the same ids, padding and
        positions share it (every sample of a batch of one length at the first decoding step).
        """
        if guidance_scale == 1:
            return self.forward(ids, text, padding, positions=positions)
        ids, padding = np.asarray(ids), np.asarray(padding, dtype=bool)
        b = ids.shape[0]
        wanted = np.ones(ids.shape, dtype=bool) if positions is None else np.asarray(positions, dtype=bool)
        _, first, shared = np.unique(np.concatenate([ids, padding, wanted], axis=1), axis=0, return_index=True,
                                     return_inverse=True)  # (U,) samples that run it, (B,) the one each uses
        both = np.concatenate([np.arange(b), first])  # (B + U,)
        logits = self.forward(ids[both], np.asarray(text)[both], padding[both],
                              drop_condition=np.arange(len(both)) >= b,
                              positions=None if positions is None else wanted[both])  # (B + U, N, V)
        return _guided(logits[:b], logits[b:][shared.reshape(-1)], guidance_scale)


# ----------------------------------------------------------------------------------------------
# Residual transformer


def _read_tables(reader: StateReader, config: ResidualTransformerConfig):
    """(embedding tables (Q-1, V, C), output tables (Q-1, V, C), output bias (Q-1 or Q, V) or None),
    as ResidualTransformer.embedding_tables and output_tables give them."""
    q, v, c = config.num_quantizers, config.num_tokens + 1, config.code_dim
    if config.shared_codebook:
        shared = reader.array("shared_table", v, c)
        embeddings = np.broadcast_to(shared, (q - 1, v, c))
        if config.share_weight:
            return embeddings, embeddings, None
        output = reader.array("shared_output", v, c)
        bias = reader.array("shared_output_bias", v)
        return embeddings, np.broadcast_to(output, (q - 1, v, c)), np.broadcast_to(bias, (q - 1, v))
    if config.share_weight:
        first = reader.array("first_embedding", 1, v, c)
        tied = reader.array("tied_tables", q - 2, v, c)
        last = reader.array("last_output", 1, v, c)
        return np.concatenate([first, tied]), np.concatenate([tied, last]), None
    return reader.array("embeddings", q - 1, v, c), reader.array("outputs", q - 1, v, c), reader.array(
        "output_bias", q, v)


class NumpyResidualTransformer(_LoadsState):
    """ResidualTransformer in numpy: history (B, N, C) + layer j + text -> logits (B, N, num_tokens + 1)."""

    kind = "residual_transformer"
    config_class = ResidualTransformerConfig

    def __init__(self, config: ResidualTransformerConfig, reader: StateReader):
        """Use from_state or from_folder."""
        if config.num_quantizers < 2:
            raise ValueError("A residual transformer needs at least two quantizer layers.")
        self.config = config
        self.pad_id = config.num_tokens
        q, c, d = config.num_quantizers, config.code_dim, config.latent_dim
        embeddings, outputs, bias = _read_tables(reader, config)  # the parameters come first in the state dict
        self.input_proj = _Linear(reader, "input_proj", c, d)
        layer_emb = _Linear(reader, "layer_emb", q, d)
        self.layer_tokens = layer_emb.weight_t + layer_emb.bias  # (Q, D): layer_emb of each one-hot layer index
        self.cond_proj = _Linear(reader, "cond_proj", config.text_dim, d)
        self.encoder = _Encoder(reader, d, config.n_heads, config.ff_size, config.n_layers)
        self.head = _PredictionHead(reader, d, c)
        self.positions = _Positions(d, config.max_len)
        self.tables = np.array(embeddings)  # (Q-1, V, C), read-only
        self.tables.flags.writeable = False
        self.outputs_t = np.ascontiguousarray(outputs.transpose(0, 2, 1))  # (Q-1, C, V)
        self.output_bias = None if bias is None else np.array(bias)  # (Q-1 or Q, V)

    def embedding_tables(self) -> np.ndarray:
        """(Q-1, V, C), read-only: table j embeds the ids of layer j."""
        return self.tables

    def _layers(self, layer, b: int) -> np.ndarray:  # int or (B,) -> (B,) int64, checked to lie in 1..Q-1
        layers = np.broadcast_to(np.asarray(layer, dtype=np.int64), (b,))
        q = self.config.num_quantizers
        if layers.size and (layers.min() < 1 or layers.max() > q - 1):
            raise ValueError(f"Residual layers are 1..{q - 1}, got {layer}.")
        return layers

    def forward(self, history: np.ndarray, layer: int | np.ndarray, text: np.ndarray, padding: np.ndarray, *,
                drop_condition: bool | np.ndarray = False) -> np.ndarray:
        """Logits (B, N, num_tokens + 1) of layer `layer` (int or (B,) in 1..Q-1) given history (B, N, C).

        padding (B, N) is True on padding; drop_condition as in NumpyMaskTransformer.forward.
        """
        history = as_float(history)
        b, n, _ = history.shape
        layers = self._layers(layer, b)  # (B,)
        text = _drop_text(as_float(text), drop_condition)
        x = self.input_proj(history) + self.positions(n)  # (B, N, D)
        layer_token = self.layer_tokens[layers][:, None]  # (B, 1, D)
        cond = self.cond_proj(text)[:, None]  # (B, 1, D)
        h = self.encoder(np.concatenate([cond, layer_token, x], axis=1), _with_slots(padding, 2))[:, 2:]
        h = self.head(h)  # (B, N, C)
        if np.ndim(layer) == 0:
            logits = linear(h, self.outputs_t[layers[0] - 1])  # (B, N, C) x (C, V) -> (B, N, V)
        else:
            logits = h @ self.outputs_t[layers - 1]  # (B, N, C) x (B, C, V) -> (B, N, V)
        if self.output_bias is not None:
            logits = logits + (logits + self.output_bias[layers - 1][:, None])  # the official doubling
        return logits

    __call__ = forward

    def guided_logits(self, history: np.ndarray, layer: int | np.ndarray, text: np.ndarray, padding: np.ndarray,
                      guidance_scale: float) -> np.ndarray:
        """Classifier-free guidance, uncond + scale * (cond - uncond), both branches in one batch."""
        if guidance_scale == 1:
            return self.forward(history, layer, text, padding)
        b = np.shape(history)[0]
        if np.ndim(layer) == 1:
            layer = np.tile(layer, 2)
        logits = self.forward(np.tile(history, (2, 1, 1)), layer, np.tile(text, (2, 1)), np.tile(padding, (2, 1)),
                              drop_condition=_both_branches(b))  # (2B, N, V)
        return _guided(logits[:b], logits[b:], guidance_scale)


# ----------------------------------------------------------------------------------------------
# Length estimator


class NumpyLengthEstimator(_LoadsState):
    """LengthEstimator in numpy: text (B, text_dim) -> logits over token counts (B, n_classes)."""

    kind = "length_estimator"
    config_class = LengthEstimatorConfig

    def __init__(self, config: LengthEstimatorConfig, reader: StateReader):
        """Use from_state or from_folder."""
        self.config = config
        h = config.hidden_dim
        widths = [config.text_dim, h, h // 2, h // 4]
        self.blocks: list[tuple[_Linear, _LayerNorm]] = []
        index = 0  # position in the torch `output` Sequential
        for block in range(3):
            if block > 0 and config.dropout:
                index += 1  # the Dropout in front of blocks 2 and 3 (absent when dropout is 0)
            self.blocks.append((_Linear(reader, f"output.{index}", widths[block], widths[block + 1]),
                                _LayerNorm(reader, f"output.{index + 1}", widths[block + 1])))
            index += 3  # Linear, LayerNorm, LeakyReLU
        self.out = _Linear(reader, f"output.{index}", widths[-1], config.n_classes)

    def logits(self, text: np.ndarray) -> np.ndarray:
        """(B, text_dim) -> (B, n_classes)"""
        x = as_float(text)
        for dense, norm in self.blocks:
            x = leaky_relu(norm(dense(x)), 0.2)
        return self.out(x)

    __call__ = logits
