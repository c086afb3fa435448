"""Official MoMask masked and residual transformers -> our MaskTransformer and ResidualTransformer.

Folder layout: `<checkpoints>/<dataset>/<name>/opt.txt` and `<name>/model/<file>.tar`, the state
dict under `t2m_transformer` (older files: `trans`) or `res_transformer`. The vocabulary (nb_code),
code_dim, num_quantizers and shared_codebook belong to the RVQ-VAE: they are read from
`<checkpoints>/<dataset>/<vq_name>/opt.txt` (a sibling folder), as the official scripts do, unless
`num_tokens` is passed; the model's own opt.txt is the fallback for the others. The official loader
fixes the text width at 512 (CLIP ViT-B/32); an opt.txt `clip_dim` wins if present.

Official key -> our key (every key is used; `clip_model.*` would be skipped, official files have none):

    token_emb.weight                       -> token_emb.weight              (masked)
    input_process.poseEmbedding.*          -> input_proj.*
    cond_emb.*                             -> cond_proj.*
    quant_emb.*                            -> layer_emb.*                   (residual)
    seqTransEncoder.layers.<i>.*           -> encoder.layers.<i>.*
    output_process.dense.*                 -> head.dense.*
    output_process.LayerNorm.*             -> head.norm.*
    output_process.poseFinal.*             -> head.out.*
    position_enc.pe (L, 1, D)              -> checked against our positions.table (L, D)
    token_embed_weight_                    -> first_embedding               (residual, share_weight)
    embed_proj_shared_weight               -> tied_tables
    output_proj_weight_                    -> last_output
    token_embed_weight                     -> embeddings                    (residual, no share_weight)
    output_proj_weight                     -> outputs
    output_proj_bias                       -> output_bias
"""

from pathlib import Path
from typing import Any

import torch

from keymask.core.models.mask_transformer import MaskTransformer, MaskTransformerConfig
from keymask.core.models.official.options import (
    CheckpointError,
    load_checkpoint,
    load_state_strict,
    read_options,
    require_options,
)
from keymask.core.models.residual_transformer import ResidualTransformer, ResidualTransformerConfig

OFFICIAL_TEXT_DIM = 512  # the official loaders pass clip_dim=512 (CLIP ViT-B/32)
OFFICIAL_MAX_LEN = 5000  # rows of the official positional table

RENAMES = {  # official prefix -> our prefix, longest first where one is a prefix of another
    "input_process.poseEmbedding.": "input_proj.",
    "cond_emb.": "cond_proj.",
    "quant_emb.": "layer_emb.",
    "seqTransEncoder.": "encoder.",
    "output_process.dense.": "head.dense.",
    "output_process.LayerNorm.": "head.norm.",
    "output_process.poseFinal.": "head.out.",
    "token_emb.": "token_emb.",
    "token_embed_weight_": "first_embedding",
    "embed_proj_shared_weight": "tied_tables",
    "output_proj_weight_": "last_output",
    "token_embed_weight": "embeddings",
    "output_proj_weight": "outputs",
    "output_proj_bias": "output_bias",
}
POSITIONS_KEY = "position_enc.pe"


def _vocabulary(checkpoint_dir: Path, options: dict[str, Any], num_tokens: int | None) -> dict[str, Any]:
    """nb_code, code_dim, num_quantizers, shared_codebook: the RVQ options first, the model's as fallback."""
    merged = dict(options)
    vq_name = options.get("vq_name")
    vq_opt = checkpoint_dir.parent / str(vq_name) / "opt.txt" if vq_name else None
    if vq_opt is not None and vq_opt.exists():
        vq = read_options(vq_opt)
        merged.update({k: vq[k] for k in ("nb_code", "code_dim", "num_quantizers", "shared_codebook") if k in vq})
    elif num_tokens is None and "nb_code" not in merged and "num_tokens" not in merged:
        raise CheckpointError(f"{checkpoint_dir / 'opt.txt'} does not give the vocabulary size: pass num_tokens, or "
                              f"put the RVQ-VAE's folder ({vq_name or '<vq_name>'}) with its opt.txt beside it.")
    if num_tokens is not None:
        merged["nb_code"] = num_tokens
    elif "nb_code" not in merged:
        merged["nb_code"] = merged["num_tokens"]
    return merged


def _common(options: dict[str, Any], source: Path) -> dict[str, Any]:
    require_options(options, ["nb_code", "code_dim", "latent_dim", "ff_size", "n_layers", "n_heads", "dropout",
                              "cond_drop_prob"], source)
    return dict(num_tokens=int(options["nb_code"]), code_dim=int(options["code_dim"]),
                latent_dim=int(options["latent_dim"]), ff_size=int(options["ff_size"]),
                n_layers=int(options["n_layers"]), n_heads=int(options["n_heads"]),
                dropout=float(options["dropout"]), text_dim=int(options.get("clip_dim", OFFICIAL_TEXT_DIM)),
                cond_drop_prob=float(options["cond_drop_prob"]), max_len=OFFICIAL_MAX_LEN)


def _renamed(state: dict[str, torch.Tensor], model: torch.nn.Module, source: Path) -> dict[str, torch.Tensor]:
    """Official keys -> ours; the positional table is checked, not loaded; unknown keys kept (to be reported)."""
    state = {k: v for k, v in state.items() if not k.startswith("clip_model.")}
    if POSITIONS_KEY not in state:
        raise CheckpointError(f"The checkpoint {source} lacks '{POSITIONS_KEY}': it is not an official MoMask "
                              "transformer.")
    table = state.pop(POSITIONS_KEY)
    ours = model.positions.table
    if tuple(table.shape) != (ours.shape[0], 1, ours.shape[1]):
        raise CheckpointError(f"The checkpoint {source} has '{POSITIONS_KEY}' of shape {tuple(table.shape)}, but "
                              f"the configuration in opt.txt needs {(ours.shape[0], 1, ours.shape[1])}.")
    # Same formula; float32 angles of far positions (up to 5000 rad) may round differently elsewhere.
    if not torch.allclose(table[:, 0].float(), ours, atol=1e-3, rtol=0):
        raise CheckpointError(f"The checkpoint {source} has a '{POSITIONS_KEY}' that is not the sinusoidal table.")
    renamed = {}
    for key, tensor in state.items():
        for official, prefix in RENAMES.items():
            if key.startswith(official) and (official.endswith(".") or key == official):
                key = prefix + key[len(official):]
                break
        renamed[key] = tensor
    return renamed


def _load(model: torch.nn.Module, checkpoint_dir: Path, model_file: str, key: str, older_key: str | None = None):
    path = checkpoint_dir / "model" / model_file
    try:
        state = load_checkpoint(path, key)
    except CheckpointError as error:
        if older_key is None:
            raise
        try:
            state = load_checkpoint(path, older_key)
        except CheckpointError:
            raise error from None
    load_state_strict(model, _renamed(state, model, path), path)
    return model.eval()


def load_official_mask_transformer(checkpoint_dir: str | Path, model_file: str = "latest.tar", *,
                                   num_tokens: int | None = None) -> MaskTransformer:
    """An official masked transformer folder (`<checkpoints>/<dataset>/<name>`) as our MaskTransformer, eval mode."""
    checkpoint_dir = Path(checkpoint_dir)
    source = checkpoint_dir / "opt.txt"
    options = _vocabulary(checkpoint_dir, read_options(source), num_tokens)
    model = MaskTransformer(MaskTransformerConfig(**_common(options, source)))
    return _load(model, checkpoint_dir, model_file, "t2m_transformer", older_key="trans")


def load_official_residual_transformer(checkpoint_dir: str | Path, model_file: str = "net_best_fid.tar", *,
                                       num_tokens: int | None = None) -> ResidualTransformer:
    """An official residual transformer folder as our ResidualTransformer, eval mode."""
    checkpoint_dir = Path(checkpoint_dir)
    source = checkpoint_dir / "opt.txt"
    options = _vocabulary(checkpoint_dir, read_options(source), num_tokens)
    require_options(options, ["num_quantizers", "share_weight", "shared_codebook"], source)
    if options["shared_codebook"]:
        raise CheckpointError(f"{source} has shared_codebook True: the official code keeps those token tables out "
                              "of the saved state dict, so the checkpoint cannot reproduce the model.")
    config = ResidualTransformerConfig(**_common(options, source), num_quantizers=int(options["num_quantizers"]),
                                       share_weight=bool(options["share_weight"]), shared_codebook=False)
    return _load(ResidualTransformer(config), checkpoint_dir, model_file, "res_transformer")
