"""The models' configurations, as plain dataclasses with no torch dependency.

Each model (torch in `core/models/`, numpy in `core/backends/`) is built from one of these; a saved
model's `config.json` holds one (see `saved.py`). The torch modules re-export their config, so
`from keymask.core.models.rvq_vae import RVQVAEConfig` keeps working.
"""

from dataclasses import dataclass

from keymask.core.spec import HUMANML3D


@dataclass
class QuantizerConfig:
    nb_code: int = 512  # codes per codebook
    code_dim: int = 512  # C, the latent channels
    num_quantizers: int = 6  # Q
    shared_codebook: bool = False  # one codebook for all layers
    quantize_dropout_prob: float = 0.2  # chance, per training step, of dropping the upper layers
    quantize_dropout_cutoff_index: int = 0  # layers up to this index are never dropped
    ema_decay: float = 0.99  # official `mu`


@dataclass
class RVQVAEConfig:
    input_dim: int = HUMANML3D.n_features  # D = 263 (official dim_pose)
    nb_code: int = 512  # codes per codebook
    code_dim: int = 512  # C, latent channels (official code_dim = output_emb_width)
    down_t: int = 2  # downsampling stages: T = N * 2 ** down_t
    stride_t: int = 2
    width: int = 512  # channels inside encoder and decoder
    depth: int = 3  # residual blocks per stage
    dilation_growth_rate: int = 3
    activation: str = "relu"  # in the residual blocks: relu, silu or gelu (official vq_act)
    norm: str | None = None  # in the residual blocks: None, "LN", "GN" or "BN" (official vq_norm)
    dropout: float = 0.2  # on each residual branch during training
    num_quantizers: int = 6  # Q
    shared_codebook: bool = False
    quantize_dropout_prob: float = 0.2
    quantize_dropout_cutoff_index: int = 0
    ema_decay: float = 0.99  # official mu
    sample_codebook_temperature: float = 0.5  # Gumbel sampling of codes in training (official 0.5)

    def quantizer_config(self) -> QuantizerConfig:
        return QuantizerConfig(
            nb_code=self.nb_code, code_dim=self.code_dim, num_quantizers=self.num_quantizers,
            shared_codebook=self.shared_codebook, quantize_dropout_prob=self.quantize_dropout_prob,
            quantize_dropout_cutoff_index=self.quantize_dropout_cutoff_index, ema_decay=self.ema_decay)


@dataclass
class MaskTransformerConfig:
    num_tokens: int = 512  # RVQ codebook size; id num_tokens is the mask, num_tokens + 1 the padding
    code_dim: int = 512  # width of the token embedding
    latent_dim: int = 384
    ff_size: int = 1024
    n_layers: int = 8
    n_heads: int = 6
    dropout: float = 0.2
    text_dim: int = 512  # width of the text embedding (official: CLIP ViT-B/32, 512)
    cond_drop_prob: float = 0.1  # training: probability of dropping the text for guidance
    max_len: int = 5000  # rows of the positional table (official: 5000)


@dataclass
class ResidualTransformerConfig:
    num_tokens: int = 512  # RVQ codebook size; id num_tokens is the padding
    num_quantizers: int = 6  # Q: layer 0 comes from the masked transformer, 1..Q-1 from this model
    code_dim: int = 512
    latent_dim: int = 384
    ff_size: int = 1024
    n_layers: int = 8
    n_heads: int = 6
    dropout: float = 0.2
    text_dim: int = 512
    cond_drop_prob: float = 0.2
    share_weight: bool = True  # tie output table j-1 to embedding table j
    shared_codebook: bool = False  # one token table for every layer
    max_len: int = 5000


@dataclass
class LengthEstimatorConfig:
    text_dim: int = 512
    n_classes: int = 50  # token counts 0..49 (HumanML3D: at most 196 frames = 49 tokens)
    hidden_dim: int = 512
    dropout: float = 0.2
