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
an optional torch.Generator; `greedy=True` uses zero noise (argmax), as the parity goldens do.
Ids are -1 on padding in every result.
"""

import math
from contextlib import contextmanager
from typing import Callable

import torch
from torch import Tensor

from keymask.core.models.mask_transformer import MaskTransformer, cosine_schedule, padding_from_lengths
from keymask.core.models.residual_transformer import ResidualTransformer

NEVER_MASKED = 1e5  # confidence of fixed and padding positions: above any probability

Callback = Callable[[int, int], None]  # (steps done, total steps)
Cancel = Callable[[], bool]  # True stops the decoding


class GenerationCancelled(RuntimeError):
    """The caller's cancel() returned True; decoding stopped before finishing."""


# ----------------------------------------------------------------------------------------------
# Sampling helpers


def top_k_filter(logits: Tensor, thres: float = 0.9) -> Tensor:
    """Keep the ceil((1 - thres) * V) largest logits of the last axis (V), set the others to -inf."""
    k = math.ceil((1 - thres) * logits.shape[-1])
    values, indices = logits.topk(k, dim=-1)
    return torch.full_like(logits, float("-inf")).scatter(-1, indices, values)


def gumbel_noise(shape: torch.Size, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """-log(-log(u)), u ~ U(0, 1), drawn on the generator's device so a seed gives the same ids anywhere."""
    draw_device = generator.device if generator is not None else device
    u = torch.rand(shape, generator=generator, device=draw_device).to(device)
    return -torch.log((-torch.log(u.clamp(min=1e-20))).clamp(min=1e-20))


def sample_tokens(logits: Tensor, *, temperature: float = 1.0, greedy: bool = False,
                  generator: torch.Generator | None = None) -> Tensor:
    """Ids (...) from logits (..., V): argmax of logits / temperature + Gumbel noise (zero if greedy)."""
    scaled = logits / max(temperature, 1e-10)
    if greedy:
        return scaled.argmax(dim=-1)
    return (scaled + gumbel_noise(logits.shape, logits.device, generator)).argmax(dim=-1)


@contextmanager
def _eval_mode(model: torch.nn.Module):
    """Run a model in eval mode and give back its training flag afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _check_cancel(cancel: Cancel | None, what: str, step: int, total: int) -> None:
    if cancel is not None and cancel():
        raise GenerationCancelled(f"{what} cancelled after {step} of {total} steps.")


def _fixed_positions(fixed_tokens: Tensor | None, fixed_mask: Tensor | None, shape: tuple[int, ...],
                     padding: Tensor, num_tokens: int) -> Tensor:
    """The validated fixed mask of `shape`, False on padding (padding broadcast over any trailing axis)."""
    if (fixed_tokens is None) != (fixed_mask is None):
        raise ValueError("Pass fixed_tokens and fixed_mask together (or neither).")
    if fixed_mask is None:
        return torch.zeros(shape, dtype=torch.bool, device=padding.device)
    if tuple(fixed_tokens.shape) != shape or tuple(fixed_mask.shape) != shape:
        raise ValueError(f"fixed_tokens {tuple(fixed_tokens.shape)} and fixed_mask {tuple(fixed_mask.shape)} "
                         f"must both have the shape {shape}.")
    fixed_tokens = fixed_tokens.to(padding.device)
    padding = padding.reshape(padding.shape + (1,) * (len(shape) - padding.dim()))
    fixed = fixed_mask.to(device=padding.device, dtype=torch.bool) & ~padding
    bad = fixed & ((fixed_tokens < 0) | (fixed_tokens >= num_tokens))
    if bool(bad.any()):
        raise ValueError(f"Fixed tokens must be codebook ids in 0..{num_tokens - 1}; "
                         f"found {int(fixed_tokens[bad][0])}.")
    return fixed


# ----------------------------------------------------------------------------------------------
# Base layer


@torch.no_grad()
def decode_base_tokens(model: MaskTransformer, text_embedding: Tensor, lengths: Tensor, *, steps: int = 10,
                       guidance_scale: float = 4.0, temperature: float = 1.0, topk_filter_thres: float = 0.9,
                       greedy: bool = False, generator: torch.Generator | None = None,
                       fixed_tokens: Tensor | None = None, fixed_mask: Tensor | None = None,
                       callback: Callback | None = None, cancel: Cancel | None = None) -> Tensor:
    """Base-layer ids (B, N), -1 on padding, for text (B, text_dim) and lengths (B,) in tokens.

    N is fixed_tokens.shape[1] when fixed tokens are given, else max(lengths). fixed_tokens (B, N)
    and fixed_mask (B, N): see the module docstring.
    """
    # 1. Inputs: padding, fixed and free positions.
    device = text_embedding.device
    lengths = lengths.to(device)
    n = fixed_tokens.shape[1] if fixed_tokens is not None else int(lengths.max())
    padding = padding_from_lengths(lengths, n)  # (B, N)
    fixed = _fixed_positions(fixed_tokens, fixed_mask, tuple(padding.shape), padding, model.config.num_tokens)
    free = ~padding & ~fixed  # (B, N)
    free_count = free.sum(dim=1)  # (B,)

    # 2. Start: fixed ids in place, every free position masked and least confident.
    ids = torch.where(padding, model.pad_id, model.mask_id)
    if fixed_tokens is not None:
        ids = torch.where(fixed, fixed_tokens.to(device), ids)
    confidence = torch.where(free, 0.0, NEVER_MASKED)  # (B, N)

    # 3. Decode: re-mask the least confident, predict them, update their confidences.
    with _eval_mode(model):
        for step, t in enumerate(torch.linspace(0, 1, steps, device=device)):
            _check_cancel(cancel, "Token decoding", step, steps)
            masked_count = torch.round(cosine_schedule(t) * free_count).clamp(min=1)  # (B,)
            ranks = confidence.argsort(dim=1).argsort(dim=1)  # (B, N): 0 = least confident
            is_masked = (ranks < masked_count[:, None]) & free
            ids = torch.where(is_masked, model.mask_id, ids)

            logits = model.guided_logits(ids, text_embedding, padding, guidance_scale)  # (B, N, V)
            predicted = sample_tokens(top_k_filter(logits, topk_filter_thres), temperature=temperature,
                                      greedy=greedy, generator=generator)  # (B, N)
            ids = torch.where(is_masked, predicted, ids)

            probability = logits.softmax(dim=-1).gather(-1, predicted.unsqueeze(-1)).squeeze(-1)  # (B, N)
            confidence = probability.masked_fill(~is_masked, NEVER_MASKED)
            if callback is not None:
                callback(step + 1, steps)

    return torch.where(padding, -1, ids)


def edit_base_tokens(model: MaskTransformer, source_ids: Tensor, edit_mask: Tensor, text_embedding: Tensor,
                     lengths: Tensor, **options) -> Tensor:
    """Temporal inpainting, the official `edit`: regenerate the positions where edit_mask (B, N) is True.

    Every other position keeps its id from source_ids (B, N). Options as for decode_base_tokens.
    """
    return decode_base_tokens(model, text_embedding, lengths, fixed_tokens=source_ids, fixed_mask=~edit_mask.bool(),
                              **options)


# ----------------------------------------------------------------------------------------------
# Residual layers


@torch.no_grad()
def decode_residual_layers(model: ResidualTransformer, base_ids: Tensor, text_embedding: Tensor, lengths: Tensor, *,
                           guidance_scale: float = 5.0, temperature: float = 1.0, topk_filter_thres: float = 0.9,
                           greedy: bool = False, generator: torch.Generator | None = None,
                           num_layers: int | None = None, fixed_tokens: Tensor | None = None,
                           fixed_mask: Tensor | None = None, callback: Callback | None = None,
                           cancel: Cancel | None = None) -> Tensor:
    """All-layer ids (B, N, 1 + num_layers), -1 on padding, from base ids (B, N) (-1 allowed on padding).

    num_layers: residual layers to decode (default all, Q - 1). fixed_tokens / fixed_mask (B, N, Q):
    fixed ids of any layer, base layer included. A predicted pad id becomes -1, as in the official code.
    """
    # 1. Inputs.
    device = text_embedding.device
    q = model.config.num_quantizers
    num_layers = q - 1 if num_layers is None else num_layers
    if not 0 <= num_layers <= q - 1:
        raise ValueError(f"num_layers must be in 0..{q - 1}, got {num_layers}.")
    base_ids = base_ids.to(device)
    b, n = base_ids.shape
    padding = padding_from_lengths(lengths.to(device), n)  # (B, N)
    fixed = _fixed_positions(fixed_tokens, fixed_mask, (b, n, q), padding, model.config.num_tokens)  # (B, N, Q)
    if fixed_tokens is not None:
        fixed_tokens = fixed_tokens.to(device)

    def constrain(ids: Tensor, layer: int) -> Tensor:  # (B, N): padding and fixed ids of `layer` in place
        ids = torch.where(padding, model.pad_id, ids)
        return ids if fixed_tokens is None else torch.where(fixed[..., layer], fixed_tokens[..., layer], ids)

    # 2. One guided prediction per layer, from the summed embeddings of the layers below.
    ids = constrain(base_ids, 0)
    layers = [ids]
    with _eval_mode(model):
        tables = model.embedding_tables()  # (Q-1, V, C)
        history = tables.new_zeros(b, n, tables.shape[-1])  # (B, N, C)
        for j in range(1, num_layers + 1):
            _check_cancel(cancel, "Residual decoding", j - 1, num_layers)
            history = history + tables[j - 1][ids]  # (B, N, C)
            logits = model.guided_logits(history, j, text_embedding, padding, guidance_scale)  # (B, N, V + 1)
            predicted = sample_tokens(top_k_filter(logits, topk_filter_thres), temperature=temperature,
                                      greedy=greedy, generator=generator)  # (B, N)
            ids = constrain(predicted, j)
            layers.append(ids)
            if callback is not None:
                callback(j, num_layers)

    all_ids = torch.stack(layers, dim=-1)  # (B, N, 1 + num_layers)
    return torch.where(all_ids == model.pad_id, -1, all_ids)
