"""Loading an official MoMask RVQ-VAE checkpoint folder into our `RVQVAE`.

    <dir>/opt.txt                  the training options: the whole configuration comes from here
    <dir>/model/net_best_fid.tar   torch.save({'vq_model': state_dict, 'ep': ..., 'total_it': ...})
    <dir>/meta/mean.npy, std.npy   (D,) feature statistics the model was trained on

Key names: an official state dict uses our names unchanged, with one exception. With
shared_codebook the official model lists one quantizer module Q times, so its state dict holds
Q identical copies `quantizer.layers.<q>.codebook`; ours holds the module once and keeps only
`quantizer.layers.0.codebook`. `official_to_our_state` and `our_to_official_state` apply this rule.
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch

from keymask.core.models.official.options import (CheckpointError, load_checkpoint, load_state_strict,
                                                  read_options, require_options)
from keymask.core.models.rvq_vae import RVQVAE, RVQVAEConfig

CHECKPOINT_KEY = "vq_model"
DEFAULT_CHECKPOINT = "net_best_fid.tar"

# our config field <- official opt.txt key, with the type the value must have
_OPTION_FIELDS: dict[str, tuple[str, type]] = {
    "input_dim": ("dim_pose", int),
    "nb_code": ("nb_code", int),
    "code_dim": ("code_dim", int),
    "down_t": ("down_t", int),
    "stride_t": ("stride_t", int),
    "width": ("width", int),
    "depth": ("depth", int),
    "dilation_growth_rate": ("dilation_growth_rate", int),
    "num_quantizers": ("num_quantizers", int),
    "shared_codebook": ("shared_codebook", bool),
    "quantize_dropout_prob": ("quantize_dropout_prob", float),
    "ema_decay": ("mu", float),
}
_ACTIVATIONS = ("relu", "silu", "gelu")
_NORMS = (None, "LN", "GN", "BN")


def _codebook_key(layer: int) -> str:
    return f"quantizer.layers.{layer}.codebook"


def config_from_options(options: dict[str, Any], source: Path) -> RVQVAEConfig:
    """Our config from the options of an official opt.txt (`source` names it in errors)."""
    require_options(options, [key for key, _ in _OPTION_FIELDS.values()]
                    + ["output_emb_width", "vq_act", "vq_norm"], source)
    values: dict[str, Any] = {}
    for field, (key, kind) in _OPTION_FIELDS.items():
        value = options[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not kind:
            raise CheckpointError(f"{source}: option {key} is {value!r}, expected a {kind.__name__}.")
        values[field] = value
    if options["output_emb_width"] != values["code_dim"]:
        raise CheckpointError(f"{source}: output_emb_width {options['output_emb_width']} differs from code_dim "
                              f"{values['code_dim']}; the official RVQ-VAE requires them equal.")
    if options["vq_act"] not in _ACTIVATIONS:
        raise CheckpointError(f"{source}: vq_act {options['vq_act']!r} is not one of {_ACTIVATIONS}.")
    if options["vq_norm"] not in _NORMS:
        raise CheckpointError(f"{source}: vq_norm {options['vq_norm']!r} is not one of {_NORMS}.")
    # Dropout 0.2, cutoff index 0 and sampling temperature 0.5 are fixed in the official code,
    # and are our defaults.
    return RVQVAEConfig(activation=options["vq_act"], norm=options["vq_norm"], **values)


def official_to_our_state(state: dict[str, torch.Tensor], config: RVQVAEConfig,
                          source: str | Path) -> dict[str, torch.Tensor]:
    """Official key names -> ours: identical, except that a shared codebook is kept once."""
    if not config.shared_codebook:
        return dict(state)
    ours = dict(state)
    for layer in range(1, config.num_quantizers):
        copy = ours.pop(_codebook_key(layer), None)
        first = ours.get(_codebook_key(0))
        if copy is not None and first is not None and not torch.equal(copy, first):
            raise CheckpointError(f"The checkpoint {source} says shared_codebook but its codebook {layer} "
                                  "differs from codebook 0.")
    return ours


def our_to_official_state(model: RVQVAE) -> dict[str, torch.Tensor]:
    """Our state dict under official key names (the inverse of `official_to_our_state`)."""
    state = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    if model.config.shared_codebook:
        for layer in range(1, model.config.num_quantizers):
            state[_codebook_key(layer)] = state[_codebook_key(0)]
    return state


def _load_statistic(path: Path, n_features: int) -> np.ndarray:
    if not path.exists():
        raise CheckpointError(f"{path} is missing: an official checkpoint folder keeps its feature statistics "
                              "in meta/mean.npy and meta/std.npy.")
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise CheckpointError(f"{path} cannot be read (corrupt or truncated): {error}") from error
    if values.shape != (n_features,):
        raise CheckpointError(f"{path} has shape {values.shape}, but opt.txt says dim_pose {n_features}.")
    return values.astype(np.float32)


def load_official_rvq_vae(checkpoint_dir: str | Path, checkpoint: str = DEFAULT_CHECKPOINT,
                          ) -> tuple[RVQVAE, np.ndarray, np.ndarray]:
    """An official RVQ-VAE folder -> (model in eval mode, mean (D,), std (D,)); CheckpointError if unusable."""
    checkpoint_dir = Path(checkpoint_dir)
    options_path = checkpoint_dir / "opt.txt"
    config = config_from_options(read_options(options_path), options_path)

    weights_path = checkpoint_dir / "model" / checkpoint
    state = official_to_our_state(load_checkpoint(weights_path, CHECKPOINT_KEY), config, weights_path)
    model = RVQVAE(config)
    load_state_strict(model, state, weights_path)

    mean = _load_statistic(checkpoint_dir / "meta" / "mean.npy", config.input_dim)
    std = _load_statistic(checkpoint_dir / "meta" / "std.npy", config.input_dim)
    return model.eval(), mean, std
