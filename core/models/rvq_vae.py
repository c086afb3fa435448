"""The residual VQ-VAE of MoMask (Guo et al. 2024): motion (B, T, D) <-> tokens (B, N, Q).

The encoder shortens time by stride_t ** down_t (4 frames per token for the HumanML3D models)
with strided convolutions and dilated residual blocks; a residual quantizer turns each latent
vector into Q code indices; the decoder mirrors the encoder with nearest-neighbour upsampling.

Module names follow the official implementation (`encoder.model.<i>...`, `decoder.model.<i>...`,
`quantizer.layers.<q>.codebook`), so an official state dict loads as it is; the one exception,
a shared codebook stored once, is handled in `official/rvq_vae.py`.
"""


import torch
from keymask.core.models.configs import RVQVAEConfig
from keymask.core.models.persistence import SavesPretrained
from keymask.core.models.quantizer import QuantizerLosses, ResidualVQ
from torch import nn


class SiLU(nn.Module):
    """x * sigmoid(x), written out as the official code does (F.silu may round differently)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "silu":
        return SiLU()
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"Unknown activation {name!r}: expected 'relu', 'silu' or 'gelu'.")


def make_norm(name: str | None, channels: int) -> nn.Module:
    if name is None:
        return nn.Identity()
    if name == "LN":
        return nn.LayerNorm(channels)
    if name == "GN":
        return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)
    if name == "BN":
        return nn.BatchNorm1d(num_features=channels, eps=1e-6, affine=True)
    raise ValueError(f"Unknown norm {name!r}: expected None, 'LN', 'GN' or 'BN'.")


class ResConv1DBlock(nn.Module):
    """x + conv1x1(act(norm(dilated conv3(act(norm(x)))))), with dropout on the branch."""

    def __init__(self, channels: int, dilation: int, *, activation: str = "relu", norm: str | None = None,
                 dropout: float = 0.2):
        super().__init__()
        self.norm_is_layer_norm = norm == "LN"
        self.norm1, self.norm2 = make_norm(norm, channels), make_norm(norm, channels)
        self.activation1, self.activation2 = make_activation(activation), make_activation(activation)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size=3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=1)
        self.dropout = nn.Dropout(dropout)

    def _normalise(self, norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.norm_is_layer_norm:
            return norm(x.transpose(1, 2)).transpose(1, 2)  # LayerNorm over channels: (B, C, T) -> (B, T, C) and back
        return norm(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        h = self.conv1(self.activation1(self._normalise(self.norm1, x)))
        h = self.conv2(self.activation2(self._normalise(self.norm2, h)))
        return x + self.dropout(h)


class Resnet1D(nn.Module):
    """`depth` residual blocks with dilations growth ** (depth-1), ..., growth, 1 (largest first).

    The official Resnet1D reverses the dilation order by default, and neither its encoder nor its
    decoder overrides that, so both run the largest dilation first.
    """

    def __init__(self, channels: int, depth: int, dilation_growth_rate: int, *, activation: str,
                 norm: str | None, dropout: float):
        super().__init__()
        dilations = [dilation_growth_rate**level for level in reversed(range(depth))]
        self.model = nn.Sequential(*[
            ResConv1DBlock(channels, dilation, activation=activation, norm=norm, dropout=dropout)
            for dilation in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C, T)
        return self.model(x)


class Encoder(nn.Module):
    """(B, D, T) -> (B, code_dim, T / stride_t ** down_t)"""

    def __init__(self, input_dim: int, code_dim: int, down_t: int, stride_t: int, width: int, depth: int,
                 dilation_growth_rate: int, *, activation: str, norm: str | None, dropout: float):
        super().__init__()
        layers = [nn.Conv1d(input_dim, width, 3, padding=1), nn.ReLU()]
        for _ in range(down_t):
            layers.append(nn.Sequential(
                nn.Conv1d(width, width, kernel_size=2 * stride_t, stride=stride_t, padding=stride_t // 2),
                Resnet1D(width, depth, dilation_growth_rate, activation=activation, norm=norm, dropout=dropout)))
        layers.append(nn.Conv1d(width, code_dim, 3, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Decoder(nn.Module):
    """(B, code_dim, N) -> (B, D, N * 2 ** down_t)"""

    def __init__(self, input_dim: int, code_dim: int, down_t: int, width: int, depth: int,
                 dilation_growth_rate: int, *, activation: str, norm: str | None, dropout: float):
        super().__init__()
        layers = [nn.Conv1d(code_dim, width, 3, padding=1), nn.ReLU()]
        for _ in range(down_t):
            # The official decoder always upsamples by 2, whatever stride_t is.
            layers.append(nn.Sequential(
                Resnet1D(width, depth, dilation_growth_rate, activation=activation, norm=norm, dropout=dropout),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv1d(width, width, 3, padding=1)))
        layers += [nn.Conv1d(width, width, 3, padding=1), nn.ReLU(), nn.Conv1d(width, input_dim, 3, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class RVQVAE(SavesPretrained, nn.Module):
    config_class = RVQVAEConfig
    kind = "rvq_vae"

    def __init__(self, config: RVQVAEConfig):
        super().__init__()
        self.config = config
        blocks = dict(activation=config.activation, norm=config.norm, dropout=config.dropout)
        self.encoder = Encoder(config.input_dim, config.code_dim, config.down_t, config.stride_t, config.width,
                               config.depth, config.dilation_growth_rate, **blocks)
        self.decoder = Decoder(config.input_dim, config.code_dim, config.down_t, config.width, config.depth,
                               config.dilation_growth_rate, **blocks)
        self.quantizer = ResidualVQ(config.quantizer_config())

    def forward(self, motion: torch.Tensor, *, frozen_tokens: bool = False) -> tuple[torch.Tensor, QuantizerLosses]:
        """motion (B, T, D) -> (reconstruction (B, T, D), QuantizerLosses), for training.

        frozen_tokens: encode with the encoder and codebooks as they are (no sampling, no
        dropout, no codebook update) and train the decoder alone; the tokens, and so the data
        the transformers were trained on, stay valid.
        """
        if frozen_tokens:
            was_training = self.training
            indices = self.eval().encode(motion)  # no dropout in the encoder: the tokens of inference
            self.train(was_training)
            reconstruction = self.decode(indices)
            zero = motion.new_zeros(())
            return reconstruction, QuantizerLosses(commitment=zero, perplexity=zero)
        latent = self.encoder(motion.permute(0, 2, 1).float())  # (B, T, D) -> (B, D, T) -> (B, C, N)
        quantized, _, losses = self.quantizer(latent, temperature=self.config.sample_codebook_temperature)
        return self.decoder(quantized).permute(0, 2, 1), losses  # (B, D, T) -> (B, T, D)

    def training_state(self):
        """Quantizer state outside the state dict, for resumable training."""
        return self.quantizer.training_state()

    def load_training_state(self, state) -> None:
        self.quantizer.load_training_state(state)

    @torch.no_grad()
    def encode(self, motion: torch.Tensor) -> torch.Tensor:
        """motion (B, T, D) -> indices (B, N, Q)"""
        latent = self.encoder(motion.permute(0, 2, 1).float())  # (B, T, D) -> (B, D, T) -> (B, C, N)
        return self.quantizer.quantize(latent)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, N, Q' <= Q) -> motion (B, T, D); index -1 (padding) contributes nothing."""
        latent = self.quantizer.get_output_from_indices(indices)  # (B, C, N)
        return self.decoder(latent).permute(0, 2, 1)  # (B, D, T) -> (B, T, D)
