"""The layers of the inference models as pure numpy functions, for the torch-free backend.

Each function computes what one torch layer computes in eval mode (no dropout, batch norm on its
running statistics), on float32 arrays, and returns float32. Weights keep torch's layouts except
for linear layers, which take the transposed weight (in, out): `transposed(weight)` gives it as
a view of the stored (out, in) weight.

Mirrors:
    linear            nn.Linear                 (with the weight transposed)
    layer_norm        nn.LayerNorm              over the last axis
    group_norm        nn.GroupNorm              on (B, C, T)
    batch_norm        nn.BatchNorm1d (eval)     on (B, C, T)
    gelu              nn.GELU() / F.gelu        the exact erf form
    relu, silu, leaky_relu, softmax
    self_attention    nn.MultiheadAttention     self-attention, packed in_proj, key padding mask
    conv1d            nn.Conv1d                 any stride, padding and dilation
    upsample_nearest2 nn.Upsample(2, "nearest") along time
    sinusoidal_positions   the table of SinusoidalPositions (core/models/mask_transformer.py)

No torch and no scipy here: GELU's erf is our own fitted approximation (below).
"""

import math

import numpy as np

FLOAT = np.float32

# GELU's tail: for z = |x| / sqrt 2 and t = 1 / (1 + z / 2), erfc(z) = t * exp(P(t) - z^2) (the form
# of Numerical Recipes' erfcc). P's coefficients (constant first) are our own least-squares fit of
# log(erfc(z) / t) + z^2 on 40001 points of [0, 7], degree 5, weighted by |x| * erfc(z) (the size
# of the term in GELU) and reweighted toward the largest error, with math.erfc as reference; the
# constant holds log(1/2) too. In float32 GELU is then within 4.8e-7 of the exact value on the
# whole line, as close as torch's own float32 GELU (5.4e-7; tests/test_numpy_backend.py).
_GELU_TAIL = tuple(np.float32(c) for c in (
    -1.2502866259 + math.log(0.5), 0.9009472493, 0.5857835969, 0.0137281822, -0.3942207756, 0.144054317))
_GELU_SATURATES = np.float32(15)  # |x| * erfc(|x| / sqrt 2) / 2 is 0 in float32 from here


def as_float(array) -> np.ndarray:
    """A C-contiguous float32 array (no copy when it already is one)."""
    return np.ascontiguousarray(array, dtype=FLOAT)


def transposed(weight: np.ndarray) -> np.ndarray:  # (out, in) -> (in, out)
    """A transposed view, not a copy: BLAS reads it as fast, and weights mapped from their file
    then stay in memory once (as file pages) instead of twice."""
    return np.asarray(weight, dtype=FLOAT).T


# ----------------------------------------------------------------------------------------------
# Element-wise


_CHUNK = 1 << 17  # elements per block in gelu: few enough numpy calls, temporaries still in the L3 cache


def gelu(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2)): torch's exact GELU (approximate='none').

    Written as max(x, 0) - |x| * erfc(|x| / sqrt 2) / 2, which needs erfc of |x| only (no sign
    juggling), in float32 block by block with four reused buffers: a transformer's hidden layer is
    millions of values, and this is the costliest element-wise step of the numpy backend. `out`
    (float32, x's shape; x itself is allowed) receives the result instead of a new array.
    """
    x = np.ascontiguousarray(x, dtype=FLOAT)
    out = np.empty_like(x) if out is None else out
    flat, result = x.reshape(-1), out.reshape(-1)
    buffers = [np.empty(min(_CHUNK, flat.size), dtype=FLOAT) for _ in range(4)]
    for start in range(0, flat.size, _CHUNK):
        block = flat[start: start + _CHUNK]
        magnitude, t, tail, square = (buffer[: block.size] for buffer in buffers)
        np.minimum(np.abs(block, out=magnitude), _GELU_SATURATES, out=magnitude)  # |x|
        np.multiply(magnitude, FLOAT(math.sqrt(0.5) / 2), out=t)
        t += FLOAT(1)
        np.reciprocal(t, out=t)  # t = 1 / (1 + z / 2)
        np.multiply(t, _GELU_TAIL[-1], out=tail)
        for coefficient in _GELU_TAIL[-2:0:-1]:  # Horner
            tail += coefficient
            tail *= t
        tail += _GELU_TAIL[0]
        np.multiply(magnitude, magnitude, out=square)
        square *= FLOAT(0.5)
        tail -= square  # P(t) + log(1/2) - z^2
        np.exp(tail, out=tail)
        tail *= t
        tail *= magnitude  # |x| * erfc(z) / 2
        np.maximum(block, FLOAT(0), out=square)
        np.subtract(square, tail, out=result[start: start + block.size])
    return out


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, FLOAT(0))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp only ever sees -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(FLOAT)


def silu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x), as the official SiLU module writes it."""
    return x * sigmoid(x)


def leaky_relu(x: np.ndarray, slope: float = 0.01) -> np.ndarray:
    return np.where(x >= 0, x, x * FLOAT(slope))


ACTIVATIONS = {"relu": relu, "silu": silu, "gelu": gelu}


def activation(name: str):
    """The activation function called `name` in RVQVAEConfig.activation (relu, silu or gelu)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}: expected 'relu', 'silu' or 'gelu'.")
    return ACTIVATIONS[name]


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along `axis`; -inf entries get probability 0 (a row needs one finite entry)."""
    shifted = x - x.max(axis=axis, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return shifted


# ----------------------------------------------------------------------------------------------
# Linear and normalisation


def linear(x: np.ndarray, weight_t: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """x (..., in) @ weight_t (in, out) + bias (out,) -> (..., out), as one matmul over all rows."""
    out = x.reshape(-1, x.shape[-1]) @ weight_t  # (M, out)
    if bias is not None:
        out += bias
    return out.reshape(x.shape[:-1] + (weight_t.shape[1],))


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Normalise the last axis to zero mean and unit (biased) variance, then scale and shift."""
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = np.einsum("...i,...i->...", centred, centred)[..., None] / FLOAT(x.shape[-1])  # no squared copy
    centred *= 1 / np.sqrt(variance + FLOAT(eps))
    centred *= weight
    centred += bias
    return centred


def group_norm(x: np.ndarray, groups: int, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """(B, C, T) normalised over each group of C / groups channels and all times, then per-channel affine."""
    b, c, t = x.shape
    grouped = x.reshape(b, groups, (c // groups) * t)  # (B, G, C/G * T)
    centred = grouped - grouped.mean(axis=-1, keepdims=True)
    variance = np.mean(centred * centred, axis=-1, keepdims=True)
    normalised = (centred / np.sqrt(variance + FLOAT(eps))).reshape(b, c, t)
    return normalised * weight[:, None] + bias[:, None]


def batch_norm(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray, weight: np.ndarray,
               bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """(B, C, T) normalised per channel by the running statistics (eval-mode BatchNorm1d)."""
    scale = weight / np.sqrt(running_var + FLOAT(eps))  # (C,)
    return (x - running_mean[:, None]) * scale[:, None] + bias[:, None]


# ----------------------------------------------------------------------------------------------
# Attention


def self_attention(x: np.ndarray, n_heads: int, in_weight_t: np.ndarray, in_bias: np.ndarray,
                   out_weight_t: np.ndarray, out_bias: np.ndarray,
                   key_padding: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
    """Multi-head self-attention of x (B, L, D), as nn.MultiheadAttention(x, x, x) computes it.

    in_weight_t (D, 3D) and in_bias (3D,) are the packed q, k, v projections (in_proj_weight
    transposed), out_weight_t (D, D) the output projection transposed. key_padding (B, L) is True
    on keys nobody may attend to (their scores become -inf); padded queries are still computed.
    rows (B, L) bool: project out only these queries and return them as (R, D), in x[rows] order.
    """
    b, length, dim = x.shape
    head_dim = dim // n_heads
    qkv = linear(x, in_weight_t, in_bias).reshape(b, length, 3, n_heads, head_dim)  # (B, L, 3, H, d)
    q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # 3 x (B, H, L, d)
    scores = (q @ k.transpose(0, 1, 3, 2)) * FLOAT(1 / math.sqrt(head_dim))  # (B, H, L, L)
    if key_padding is not None and key_padding.any():
        scores = np.where(key_padding[:, None, None, :], FLOAT(-np.inf), scores)
    attended = softmax(scores) @ v  # (B, H, L, d)
    merged = attended.transpose(0, 2, 1, 3)  # (B, H, L, d) -> (B, L, H, d)
    merged = merged.reshape(b, length, dim) if rows is None else merged[rows].reshape(-1, dim)  # (B, L, D) or (R, D)
    return linear(merged, out_weight_t, out_bias)


# ----------------------------------------------------------------------------------------------
# Convolution and resampling


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, *, stride: int = 1,
           padding: int = 0, dilation: int = 1) -> np.ndarray:
    """x (B, C_in, T) * weight (C_out, C_in, K) -> (B, C_out, T_out), zero padding, as nn.Conv1d.

    With stride 1, a sum over the K taps of weight[:, :, i] @ (the padded input shifted by i *
    dilation), each a matmul on a view of the input; otherwise im2col: the K strided views are
    stacked into (B, C_in * K, T_out) and multiplied by the weight seen as (C_out, C_in * K).
    """
    b, c_in, _ = x.shape
    c_out, _, k = weight.shape
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    span = dilation * (k - 1) + 1  # input frames one output frame sees
    t_out = (x.shape[2] - span) // stride + 1
    if k == 1:
        columns = x[:, :, : stride * (t_out - 1) + 1: stride]  # (B, C_in, T_out)
    elif stride == 1:  # no (B, C_in * K, T_out) copy of the input
        tap_weights = np.ascontiguousarray(weight.transpose(2, 0, 1))  # (K, C_out, C_in)
        out = tap_weights[0] @ x[:, :, :t_out]  # (B, C_out, T_out)
        for i in range(1, k):
            out += tap_weights[i] @ x[:, :, i * dilation: i * dilation + t_out]
        if bias is not None:
            out += bias[:, None]
        return out
    else:
        taps = [x[:, :, i * dilation: i * dilation + stride * (t_out - 1) + 1: stride] for i in range(k)]
        columns = np.stack(taps, axis=2).reshape(b, c_in * k, t_out)  # (B, C_in, K, T_out) -> (B, C_in * K, T_out)
    out = weight.reshape(c_out, c_in * k) @ columns  # (B, C_out, T_out)
    if bias is not None:
        out += bias[:, None]
    return out


def upsample_nearest2(x: np.ndarray) -> np.ndarray:  # (B, C, T) -> (B, C, 2T)
    return np.repeat(x, 2, axis=-1)


# ----------------------------------------------------------------------------------------------
# Positions


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """Rows 0..length-1 of the sine/cosine table of MDM and MoMask -> (length, dim).

    The float32 steps of SinusoidalPositions: frequency exp(2i * -ln(10000) / dim), angle position *
    frequency, sine in the even columns and cosine in the odd ones. exp, sin and cos run in float64
    and are rounded once, which lands on torch's float32 values more often than numpy's float32
    versions do. Each row depends only on its position: a short table is the start of a long one.
    """
    position = np.arange(length, dtype=FLOAT)[:, None]  # (length, 1)
    exponent = np.arange(0, dim, 2, dtype=FLOAT) * FLOAT(-math.log(10000.0) / dim)  # (dim / 2,)
    frequency = np.exp(exponent.astype(np.float64)).astype(FLOAT)
    angle = (position * frequency).astype(np.float64)  # (length, dim / 2), the float32 product
    table = np.zeros((length, dim), dtype=FLOAT)
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : dim // 2])
    return table
