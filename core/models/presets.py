"""Model sizes: the official MoMask HumanML3D size and KeyMask's default (sized for a 2-core CPU)."""

from dataclasses import dataclass

from keymask.core.models.configs import (
    LengthEstimatorConfig,
    MaskTransformerConfig,
    ResidualTransformerConfig,
    RVQVAEConfig,
)


@dataclass(frozen=True)
class ModelSizes:
    vq: RVQVAEConfig
    mask_transformer: MaskTransformerConfig
    residual_transformer: ResidualTransformerConfig
    length_estimator: LengthEstimatorConfig


def official_size(text_dim: int = 512) -> ModelSizes:
    """RVQ 512 codes x 6 layers, width 512; transformers 8 layers x 384, 6 heads (CLIP text, 512-d)."""
    vq = RVQVAEConfig(nb_code=512, code_dim=512, width=512, depth=3, num_quantizers=6)
    common = dict(num_tokens=512, code_dim=512, latent_dim=384, ff_size=1024, n_layers=8, n_heads=6, text_dim=text_dim)
    return ModelSizes(vq, MaskTransformerConfig(**common, cond_drop_prob=0.1),
                      ResidualTransformerConfig(**common, num_quantizers=6, cond_drop_prob=0.2),
                      LengthEstimatorConfig(text_dim=text_dim))


def keymask_default(text_dim: int = 384) -> ModelSizes:
    """The shipped default's sizes (resources/models/default), small enough to train on the Bandai
    data in CPU sessions (MiniLM text, 384-d)."""
    vq = RVQVAEConfig(nb_code=512, code_dim=128, width=128, depth=2, num_quantizers=6)
    common = dict(num_tokens=512, code_dim=128, latent_dim=256, ff_size=768, n_layers=4, n_heads=4, text_dim=text_dim)
    return ModelSizes(vq, MaskTransformerConfig(**common, cond_drop_prob=0.1),
                      ResidualTransformerConfig(**{**common, "ff_size": 1280}, num_quantizers=6, cond_drop_prob=0.2),
                      LengthEstimatorConfig(text_dim=text_dim))
