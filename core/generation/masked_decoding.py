"""Iterative masked decoding of MoMask tokens, with fixed tokens.

Base layer (`decode_base_tokens`), the official `generate`: start with every free token masked; at
each of `steps` steps, re-mask the cosine-scheduled number of least confident tokens among those
sampled at the previous step, predict them with classifier-free guidance, keep the new ids and
their probabilities as confidences. Residual layers (`decode_residual_layers`), the official
residual `generate`: one guided prediction per quantizer layer from the sum of the layers below.

Fixed tokens, one mechanism for every constraint: where `fixed_mask` is True the id from
`fixed_tokens` is placed before the first step, is never masked or re-sampled, and conditions the
other positions through attention. Temporal inpainting (the official `edit`) is the special case
"fix everything outside the edited span": `edit_base_tokens`.

Sampling is the Gumbel-max trick over the top-k filtered, temperature-scaled logits, with noise from
a numpy Generator; `greedy=True` uses zero noise (argmax), as the parity goldens do. Ids are -1 on
padding in every result. Everything here is numpy: the models come behind the protocols of
`core/backends/interface.py` (torch modules or numpy ones), so one seed gives the same motion on
either backend.
"""

import math
from typing import Callable

import numpy as np

from keymask.core.backends.interface import BaseTokenModel, ResidualTokenModel
from keymask.core.errors import KeyMaskError

NEVER_MASKED = 1e5  # confidence of fixed and padding positions: above any probability

Callback = Callable[[int, int], None]  # (steps done, total steps)
Cancel = Callable[[], bool]  # True stops the decoding


class GenerationCancelled(KeyMaskError, RuntimeError):
    """The caller's cancel() returned True; decoding stopped before finishing."""


# ----------------------------------------------------------------------------------------------
# Schedules and sampling


def cosine_schedule(t: np.ndarray | float) -> np.ndarray:
    """Fraction of tokens kept masked at time t in [0, 1]: 1 at t=0, 0 at t=1.

    In float32 as the official torch code computes it, so the rounded token counts agree.
    """
    return np.cos(np.asarray(t, dtype=np.float32) * np.float32(math.pi) * np.float32(0.5))


def padding_from_lengths(lengths: np.ndarray, n: int) -> np.ndarray:  # (B,) -> (B, n), True on padding
    return np.arange(n)[None, :] >= np.asarray(lengths)[:, None]


def top_k_filter(logits: np.ndarray, thres: float = 0.9) -> np.ndarray:
    """Keep the ceil((1 - thres) * V) largest logits of the last axis (V), set the others to -inf."""
    k = math.ceil((1 - thres) * logits.shape[-1])
    if k >= logits.shape[-1]:
        return logits
    kth_largest = -np.partition(-logits, k - 1, axis=-1)[..., k - 1: k]  # (..., 1)
    return np.where(logits >= kth_largest, logits, -np.inf)


def gumbel_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """-log(-log(u)), u ~ U(0, 1)."""
    u = rng.random(shape, dtype=np.float32)
    return -np.log(np.maximum(-np.log(np.maximum(u, 1e-20)), 1e-20))


def sample_tokens(logits: np.ndarray, *, temperature: float = 1.0, greedy: bool = False,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Ids (...) from logits (..., V): argmax of logits / temperature + Gumbel noise (none if greedy or
    the temperature is 0: the most likely token)."""
    if greedy or temperature <= 0:
        return logits.argmax(axis=-1)
    scaled = logits / temperature
    rng = rng if rng is not None else np.random.default_rng()
    return (scaled + gumbel_noise(logits.shape, rng)).argmax(axis=-1)


def softmax(logits: np.ndarray) -> np.ndarray:  # over the last axis
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _check_cancel(cancel: Cancel | None, what: str, step: int, total: int) -> None:
    if cancel is not None and cancel():
        raise GenerationCancelled(f"{what} cancelled after {step} of {total} steps.")


def _fixed_positions(fixed_tokens: np.ndarray | None, fixed_mask: np.ndarray | None, shape: tuple[int, ...],
                     padding: np.ndarray, num_tokens: int) -> np.ndarray:
    """The validated fixed mask of `shape`, False on padding (padding broadcast over any trailing axis)."""
    if (fixed_tokens is None) != (fixed_mask is None):
        raise ValueError("Pass fixed_tokens and fixed_mask together (or neither).")
    if fixed_mask is None:
        return np.zeros(shape, dtype=bool)
    fixed_tokens, fixed_mask = np.asarray(fixed_tokens), np.asarray(fixed_mask)
    if fixed_tokens.shape != shape or fixed_mask.shape != shape:
        raise ValueError(f"fixed_tokens {fixed_tokens.shape} and fixed_mask {fixed_mask.shape} "
                         f"must both have the shape {shape}.")
    padding = padding.reshape(padding.shape + (1,) * (len(shape) - padding.ndim))
    fixed = fixed_mask.astype(bool) & ~padding
    bad = fixed & ((fixed_tokens < 0) | (fixed_tokens >= num_tokens))
    if bad.any():
        raise ValueError(f"Fixed tokens must be codebook ids in 0..{num_tokens - 1}; "
                         f"found {int(fixed_tokens[bad][0])}.")
    return fixed


# ----------------------------------------------------------------------------------------------
# Base layer


def decode_base_tokens(model: BaseTokenModel, text_embedding: np.ndarray, lengths: np.ndarray, *, steps: int = 10,
                       guidance_scale: float = 4.0, temperature: float = 1.0, topk_filter_thres: float = 0.9,
                       greedy: bool = False, rng: np.random.Generator | None = None,
                       fixed_tokens: np.ndarray | None = None, fixed_mask: np.ndarray | None = None,
                       callback: Callback | None = None, cancel: Cancel | None = None) -> np.ndarray:
    """Base-layer ids (B, N), -1 on padding, for text (B, text_dim) and lengths (B,) in tokens.

    N is fixed_tokens.shape[1] when fixed tokens are given, else max(lengths). fixed_tokens (B, N)
    and fixed_mask (B, N): see the module docstring.
    """
    # 1. Inputs: padding, fixed and free positions.
    text_embedding = np.asarray(text_embedding, dtype=np.float32)
    lengths = np.asarray(lengths, dtype=np.int64)
    n = np.asarray(fixed_tokens).shape[1] if fixed_tokens is not None else int(lengths.max())
    padding = padding_from_lengths(lengths, n)  # (B, N)
    fixed = _fixed_positions(fixed_tokens, fixed_mask, padding.shape, padding, model.config.num_tokens)
    free = ~padding & ~fixed  # (B, N)
    free_count = free.sum(axis=1)  # (B,)

    # 2. Start: fixed ids in place, every free position masked and least confident.
    ids = np.where(padding, model.pad_id, model.mask_id).astype(np.int64)
    if fixed_tokens is not None:
        ids = np.where(fixed, np.asarray(fixed_tokens, dtype=np.int64), ids)
    confidence = np.where(free, 0.0, NEVER_MASKED)  # (B, N)

    # 3. Decode: re-mask the least confident, predict them, update their confidences.
    for step, t in enumerate(np.linspace(0, 1, steps, dtype=np.float32)):
        _check_cancel(cancel, "Token decoding", step, steps)
        masked_count = np.maximum(np.round(cosine_schedule(t) * free_count.astype(np.float32)), 1)  # (B,)
        ranks = confidence.argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")  # (B, N): 0 = least confident
        is_masked = (ranks < masked_count[:, None]) & free
        ids = np.where(is_masked, model.mask_id, ids)

        logits = model.guided_logits(ids, text_embedding, padding, guidance_scale, positions=is_masked)  # (B, N, V)
        predicted = sample_tokens(top_k_filter(logits, topk_filter_thres), temperature=temperature,
                                  greedy=greedy, rng=rng)  # (B, N)
        ids = np.where(is_masked, predicted, ids)

        probability = np.take_along_axis(softmax(logits), predicted[..., None], axis=-1)[..., 0]  # (B, N)
        confidence = np.where(is_masked, probability, NEVER_MASKED)
        if callback is not None:
            callback(step + 1, steps)

    return np.where(padding, -1, ids)


def edit_base_tokens(model: BaseTokenModel, source_ids: np.ndarray, edit_mask: np.ndarray,
                     text_embedding: np.ndarray, lengths: np.ndarray, **options) -> np.ndarray:
    """Temporal inpainting, the official `edit`: regenerate the positions where edit_mask (B, N) is True.

    Every other position keeps its id from source_ids (B, N). Options as for decode_base_tokens.
    """
    return decode_base_tokens(model, text_embedding, lengths, fixed_tokens=source_ids,
                              fixed_mask=~np.asarray(edit_mask, dtype=bool), **options)


# ----------------------------------------------------------------------------------------------
# Residual layers


def decode_residual_layers(model: ResidualTokenModel, base_ids: np.ndarray, text_embedding: np.ndarray,
                           lengths: np.ndarray, *, guidance_scale: float = 5.0, temperature: float = 1.0,
                           topk_filter_thres: float = 0.9, greedy: bool = False,
                           rng: np.random.Generator | None = None, num_layers: int | None = None,
                           fixed_tokens: np.ndarray | None = None, fixed_mask: np.ndarray | None = None,
                           callback: Callback | None = None, cancel: Cancel | None = None) -> np.ndarray:
    """All-layer ids (B, N, 1 + num_layers), -1 on padding, from base ids (B, N) (-1 allowed on padding).

    num_layers: residual layers to decode (default all, Q - 1). fixed_tokens / fixed_mask (B, N, Q):
    fixed ids of any layer, base layer included. A predicted pad id becomes -1, as in the official code.
    """
    # 1. Inputs.
    q = model.config.num_quantizers
    num_layers = q - 1 if num_layers is None else num_layers
    if not 0 <= num_layers <= q - 1:
        raise ValueError(f"num_layers must be in 0..{q - 1}, got {num_layers}.")
    text_embedding = np.asarray(text_embedding, dtype=np.float32)
    base_ids = np.asarray(base_ids, dtype=np.int64)
    b, n = base_ids.shape
    padding = padding_from_lengths(np.asarray(lengths), n)  # (B, N)
    fixed = _fixed_positions(fixed_tokens, fixed_mask, (b, n, q), padding, model.config.num_tokens)  # (B, N, Q)

    def constrain(ids: np.ndarray, layer: int) -> np.ndarray:  # (B, N): padding and fixed ids of `layer` in place
        ids = np.where(padding, model.pad_id, ids)
        return ids if fixed_tokens is None else np.where(fixed[..., layer], np.asarray(fixed_tokens)[..., layer], ids)

    # 2. One guided prediction per layer, from the summed embeddings of the layers below.
    ids = constrain(base_ids, 0)
    layers = [ids]
    tables = model.embedding_tables()  # (Q-1, V, C)
    history = np.zeros((b, n, tables.shape[-1]), dtype=np.float32)  # (B, N, C)
    for j in range(1, num_layers + 1):
        _check_cancel(cancel, "Residual decoding", j - 1, num_layers)
        history = history + tables[j - 1][ids]  # (B, N, C)
        logits = model.guided_logits(history, j, text_embedding, padding, guidance_scale)  # (B, N, V + 1)
        predicted = sample_tokens(top_k_filter(logits, topk_filter_thres), temperature=temperature,
                                  greedy=greedy, rng=rng)  # (B, N)
        ids = constrain(predicted, j)
        layers.append(ids)
        if callback is not None:
            callback(j, num_layers)

    all_ids = np.stack(layers, axis=-1)  # (B, N, 1 + num_layers)
    return np.where(all_ids == model.pad_id, -1, all_ids)
