"""Residual vector quantisation with EMA codebooks, as in MoMask (Guo et al. 2024).

A `CodebookQuantizer` snaps each latent vector to its nearest code; during training its codebook
follows the encoder outputs by exponential moving averages, and codes that nobody uses are reset
to random recent inputs. `ResidualVQ` stacks Q of them: layer q quantises what layers 0..q-1 left
over, so the latent is the sum of one code per layer.

Both return `(quantized, indices, losses)`; `ResidualVQ.get_output_from_indices` is the inverse,
and index -1 (a dropped layer or a padded token) contributes nothing.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from keymask.core.models.configs import QuantizerConfig
from torch import nn

PAD_INDEX = -1  # a dropped quantizer layer or a padded token: decodes to the zero vector


@dataclass
class QuantizerLosses:
    commitment: torch.Tensor  # () mean squared distance of the inputs to their (detached) codes
    perplexity: torch.Tensor  # () exp(entropy) of code usage in the batch, averaged over layers


def usage_perplexity(indices: torch.Tensor, nb_code: int) -> torch.Tensor:
    """exp(entropy) of how often each code appears in `indices` (any shape)."""
    counts = torch.bincount(indices.reshape(-1), minlength=nb_code).float()
    probabilities = counts / counts.sum()
    return torch.exp(-torch.sum(probabilities * torch.log(probabilities + 1e-7)))


def gumbel_noise(like: torch.Tensor) -> torch.Tensor:
    uniform = torch.zeros_like(like).uniform_(0, 1)
    return -torch.log((-torch.log(uniform.clamp(min=1e-20))).clamp(min=1e-20))


def residual_after(residual: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """What the next layer quantises: `residual - codes`, rounded as the official code rounds it.

    The official layers return the straight-through value r + (q - r), which can differ from q in
    the last bit, and subtract that; doing the same keeps our indices identical to theirs.
    """
    straight_through_value = residual + (codes - residual)
    return residual - straight_through_value.detach()


class CodebookQuantizer(nn.Module):
    """One EMA codebook with dead-code reset (the official QuantizeEMAReset)."""

    def __init__(self, nb_code: int, code_dim: int, *, ema_decay: float = 0.99):
        super().__init__()
        self.nb_code, self.code_dim, self.ema_decay = nb_code, code_dim, ema_decay
        self.register_buffer("codebook", torch.zeros(nb_code, code_dim))
        # EMA statistics live only during training, so they are not saved (nor are they officially);
        # a freshly built or loaded quantizer refills its codebook from the first training batch.
        self.register_buffer("code_sum", torch.zeros(nb_code, code_dim), persistent=False)
        self.register_buffer("code_count", torch.zeros(nb_code), persistent=False)
        self.initialised = False

    def nearest_codes(self, x: torch.Tensor, *, temperature: float = 0.0) -> torch.Tensor:
        """x (M, C) -> indices (M,); in training with temperature > 0, a Gumbel sample instead."""
        codebook_t = self.codebook.t()  # (C, nb_code)
        distance = (torch.sum(x**2, dim=-1, keepdim=True) - 2 * torch.matmul(x, codebook_t)
                    + torch.sum(codebook_t**2, dim=0, keepdim=True))  # (M, nb_code)
        if self.training and temperature > 0:
            return (-distance / temperature + gumbel_noise(distance)).argmax(dim=-1)
        return (-distance).argmax(dim=-1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (...) -> codes (..., C)"""
        return F.embedding(indices, self.codebook)

    def _random_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """nb_code rows drawn from x (M, C), tiled with a little noise when M < nb_code."""
        if x.shape[0] < self.nb_code:
            repeats = math.ceil(self.nb_code / x.shape[0])
            x = x.repeat(repeats, 1)
            x = x + torch.randn_like(x) * (0.01 / math.sqrt(self.code_dim))
        return x[: self.nb_code]

    @torch.no_grad()
    def _initialise(self, x: torch.Tensor) -> None:
        self.codebook.copy_(self._random_inputs(x))
        self.code_sum.copy_(self.codebook)
        self.code_count.fill_(1.0)
        self.initialised = True

    @torch.no_grad()
    def _update_codebook(self, x: torch.Tensor, indices: torch.Tensor) -> None:
        """EMA of each code's assigned inputs; codes whose EMA count falls below 1 become random inputs."""
        one_hot = torch.zeros(self.nb_code, x.shape[0], device=x.device)  # (nb_code, M)
        one_hot.scatter_(0, indices.view(1, -1), 1)
        batch_sum = torch.matmul(one_hot, x)  # (nb_code, C)
        batch_count = one_hot.sum(dim=-1)  # (nb_code,)
        replacements = self._random_inputs(x)

        decay = self.ema_decay
        self.code_sum.copy_(decay * self.code_sum + (1.0 - decay) * batch_sum)
        self.code_count.copy_(decay * self.code_count + (1.0 - decay) * batch_count)
        alive = (self.code_count.view(-1, 1) >= 1.0).float()  # (nb_code, 1)
        averaged = self.code_sum / self.code_count.view(-1, 1)
        self.codebook.copy_(alive * averaged + (1 - alive) * replacements)

    def training_state(self) -> dict[str, torch.Tensor]:
        """The EMA statistics and the initialised flag, which the state dict leaves out (as the
        official one does) but a resumed training run needs."""
        return {"code_sum": self.code_sum.clone(), "code_count": self.code_count.clone(),
                "initialised": torch.tensor(self.initialised)}

    def load_training_state(self, state: dict[str, torch.Tensor]) -> None:
        self.code_sum.copy_(state["code_sum"])
        self.code_count.copy_(state["code_count"])
        self.initialised = bool(state["initialised"])

    def forward(self, x: torch.Tensor, *, temperature: float = 0.0):
        """x (B, C, N) -> (quantized (B, C, N), indices (B, N), QuantizerLosses)"""
        batch, channels, tokens = x.shape
        flat = x.permute(0, 2, 1).reshape(-1, channels)  # (B, C, N) -> (B*N, C)
        if self.training and not self.initialised:
            self._initialise(flat)

        indices = self.nearest_codes(flat, temperature=temperature)  # (B*N,)
        codes = self.dequantize(indices)  # (B*N, C)
        if self.training:
            self._update_codebook(flat, indices)
        perplexity = usage_perplexity(indices, self.nb_code)
        commitment = F.mse_loss(flat, codes.detach())

        codes = codes.view(batch, tokens, channels).permute(0, 2, 1)  # (B*N, C) -> (B, C, N)
        # Straight-through: the value is exactly the code, the gradient goes to x unchanged.
        quantized = codes.detach() + (x - x.detach())
        return quantized, indices.view(batch, tokens), QuantizerLosses(commitment, perplexity)


class ResidualVQ(nn.Module):
    """Q codebook quantizers applied in turn to the residual (the official ResidualVQ)."""

    def __init__(self, config: QuantizerConfig):
        super().__init__()
        self.config = config
        self.num_quantizers = config.num_quantizers
        # With a shared codebook, the official model lists one module Q times; we hold it once
        # (see `quantizer_layers`) so that every weight is saved once.
        n_modules = 1 if config.shared_codebook else config.num_quantizers
        self.layers = nn.ModuleList(
            CodebookQuantizer(config.nb_code, config.code_dim, ema_decay=config.ema_decay)
            for _ in range(n_modules))

    def quantizer_layers(self) -> list[CodebookQuantizer]:
        """The Q layers in order (the same module Q times with a shared codebook)."""
        return [self.layers[0 if self.config.shared_codebook else q] for q in range(self.num_quantizers)]

    def training_state(self) -> list[dict[str, torch.Tensor]]:
        """Per codebook module: EMA statistics and initialised flag (see CodebookQuantizer)."""
        return [layer.training_state() for layer in self.layers]

    def load_training_state(self, states: list[dict[str, torch.Tensor]]) -> None:
        for layer, state in zip(self.layers, states, strict=True):
            layer.load_training_state(state)

    @property
    def codebooks(self) -> torch.Tensor:
        return torch.stack([layer.codebook for layer in self.quantizer_layers()])  # (Q, nb_code, C)

    def _layers_kept_this_step(self) -> int:
        """How many layers run: all, except when quantizer dropout strikes during training."""
        cfg = self.config
        if self.training and cfg.quantize_dropout_prob > 0 and torch.rand(()).item() < cfg.quantize_dropout_prob:
            last_kept = int(torch.randint(cfg.quantize_dropout_cutoff_index, self.num_quantizers, ()).item())
            return last_kept + 1
        return self.num_quantizers

    def forward(self, x: torch.Tensor, *, temperature: float = 0.0):
        """x (B, C, N) -> (quantized (B, C, N), indices (B, N, Q), QuantizerLosses)

        In training, `temperature` > 0 samples codes (official: 0.5) and quantizer dropout may
        skip the upper layers, whose indices are then -1.
        """
        batch, _, tokens = x.shape
        n_kept = self._layers_kept_this_step()
        quantized_sum = torch.zeros_like(x)
        residual = x
        all_indices, commitments, perplexities = [], [], []
        for q, layer in enumerate(self.quantizer_layers()):
            if q >= n_kept:
                all_indices.append(torch.full((batch, tokens), PAD_INDEX, dtype=torch.long, device=x.device))
                continue
            quantized, indices, losses = layer(residual, temperature=temperature)
            residual = residual_after(residual, quantized.detach())
            quantized_sum = quantized_sum + quantized
            all_indices.append(indices)
            commitments.append(losses.commitment)
            perplexities.append(losses.perplexity)

        losses = QuantizerLosses(commitment=sum(commitments) / len(commitments),
                                 perplexity=sum(perplexities) / len(perplexities))
        return quantized_sum, torch.stack(all_indices, dim=-1), losses  # indices (B, N, Q)

    @torch.no_grad()
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, N) -> indices (B, N, Q): nearest codes through all layers, no sampling, no EMA.

        The official `quantize` in eval mode (in training mode it would also move the codebooks).
        """
        channels = x.shape[1]
        residual = x
        all_indices = []
        for layer in self.quantizer_layers():
            indices = layer.nearest_codes(residual.permute(0, 2, 1).reshape(-1, channels))  # (B*N,)
            codes = layer.dequantize(indices).view(x.shape[0], x.shape[2], channels).permute(0, 2, 1)
            residual = residual_after(residual, codes)  # (B, C, N)
            all_indices.append(indices.view(x.shape[0], x.shape[2]))
        return torch.stack(all_indices, dim=-1)

    def get_codes_from_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, N, Q' <= Q) -> codes (Q, B, N, C); missing layers and index -1 give zeros."""
        missing_layers = self.num_quantizers - indices.shape[-1]
        if missing_layers > 0:
            indices = F.pad(indices, (0, missing_layers), value=PAD_INDEX)
        is_pad = (indices == PAD_INDEX).permute(2, 0, 1).unsqueeze(-1)  # (B, N, Q) -> (Q, B, N, 1)
        safe_indices = indices.clamp(min=0)
        codes = torch.stack([layer.dequantize(safe_indices[..., q])
                             for q, layer in enumerate(self.quantizer_layers())])  # (Q, B, N, C)
        return codes.masked_fill(is_pad, 0.0)

    def get_output_from_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, N, Q) -> quantized (B, C, N): the sum of one code per layer."""
        return self.get_codes_from_indices(indices).sum(dim=0).permute(0, 2, 1)  # (B, N, C) -> (B, C, N)
