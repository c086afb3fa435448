"""Model folders read into torch modules and written from them (training, official checkpoints, GPUs).

A complete model is a `MotionModels` (core/backends/interface.py) whatever runs it; here its
networks are torch modules behind the wrappers of `torch_backend.py`. Two on-disk layouts load:
- ours: a folder with `keymask_model.json` and one sub-folder per model (config.json +
  model.safetensors each), plus `mean.npy` / `std.npy`;
- the official MoMask layout: `<checkpoints>/<dataset>/<name>/opt.txt` + `model/*.tar`; give the
  masked transformer's folder (or the dataset folder when it holds one); the RVQ-VAE is found by
  its `vq_name`, the residual transformer among the sibling folders, the length estimator in
  `length_estimator/model/finest.tar` when present. These models use CLIP ViT-B/32 text features.
"""

from pathlib import Path

import numpy as np
import torch

from keymask.core.backends.interface import MotionModels
from keymask.core.backends.torch_backend import torch_models, torch_modules
from keymask.core.fileio import ensure_output_dir, write_json, write_npy
from keymask.core.models.length_estimator import LengthEstimator, LengthEstimatorConfig
from keymask.core.models.mask_transformer import MaskTransformer
from keymask.core.models.official.options import load_checkpoint, load_state_strict, read_options
from keymask.core.models.official.rvq_vae import load_official_rvq_vae
from keymask.core.models.official.transformers import (
    load_official_mask_transformer,
    load_official_residual_transformer,
)
from keymask.core.models.residual_transformer import ResidualTransformer
from keymask.core.models.rvq_vae import RVQVAE
from keymask.core.models.saved import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    CLIP_TEXT_ENCODER,
    CheckpointError,
    read_bundle_document,
    read_statistics,
)

# the field of each network in MotionModels -> its sub-folder in a KeyMask model folder
SUBFOLDERS = {"vq": "rvq_vae", "mask_transformer": "mask_transformer", "residual_transformer": "residual_transformer",
              "length_estimator": "length_estimator"}


def load_torch_models(folder: str | Path, device: str | torch.device = "cpu") -> MotionModels:
    """The torch modules of a model folder (ours or the official layout) behind `MotionModels`.

    Each network's module is its wrapper's `.model` (see `torch_modules`).
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise CheckpointError(f"The model folder {folder} does not exist.")
    models = _load_ours(folder) if (folder / BUNDLE_FILE).exists() else _load_official(folder)
    for module in torch_modules(models).values():
        module.to(device)
    return models


def save_models(models: MotionModels, folder: str | Path) -> Path:
    """Write torch-backed `models` as a KeyMask model folder (one sub-folder per network, mean/std)."""
    folder = ensure_output_dir(folder)
    for name, module in torch_modules(models).items():
        module.save_pretrained(folder / SUBFOLDERS[name])
    write_npy(folder / "mean.npy", np.asarray(models.mean, dtype=np.float32))
    write_npy(folder / "std.npy", np.asarray(models.std, dtype=np.float32))
    write_json(folder / BUNDLE_FILE, {"format": BUNDLE_FORMAT, "text_encoder": models.text_encoder, **models.info})
    return folder


def _load_ours(folder: Path) -> MotionModels:
    text_encoder, info = read_bundle_document(folder)
    mean, std = read_statistics(folder)
    estimator = None
    if (folder / "length_estimator").exists():
        estimator = LengthEstimator.from_pretrained(folder / "length_estimator")
    return torch_models(vq=RVQVAE.from_pretrained(folder / "rvq_vae"),
                        mask_transformer=MaskTransformer.from_pretrained(folder / "mask_transformer"),
                        residual_transformer=ResidualTransformer.from_pretrained(folder / "residual_transformer"),
                        mean=mean, std=std, text_encoder=text_encoder, length_estimator=estimator, info=info)


def _load_official(folder: Path) -> MotionModels:
    mask_dir = _find_official_mask_transformer(folder)
    dataset_dir = mask_dir.parent
    options = read_options(mask_dir / "opt.txt")
    vq_dir = dataset_dir / str(options.get("vq_name", ""))
    if not (vq_dir / "opt.txt").exists():
        raise CheckpointError(f"The RVQ-VAE '{options.get('vq_name')}' named in {mask_dir / 'opt.txt'} is not in "
                              f"{dataset_dir}.")
    vq, mean, std = load_official_rvq_vae(vq_dir)
    residual_dir = _find_official_residual(dataset_dir, str(options["vq_name"]))
    estimator_file = dataset_dir / "length_estimator" / "model" / "finest.tar"
    estimator = _load_official_length_estimator(estimator_file) if estimator_file.exists() else None
    return torch_models(vq=vq, mask_transformer=load_official_mask_transformer(mask_dir),
                        residual_transformer=load_official_residual_transformer(residual_dir),
                        mean=mean, std=std, text_encoder=CLIP_TEXT_ENCODER, length_estimator=estimator,
                        info={"source": f"official MoMask checkpoints in {dataset_dir}"})


def _is_residual(options: dict) -> bool:
    return "share_weight" in options


def _find_official_mask_transformer(folder: Path) -> Path:
    if (folder / "opt.txt").exists():
        options = read_options(folder / "opt.txt")
        if "vq_name" not in options or _is_residual(options):
            raise CheckpointError(f"{folder} is not a masked transformer folder: point --model at the official "
                                  "masked transformer's folder (its opt.txt names a vq_name).")
        return folder
    candidates = [p.parent for p in sorted(folder.glob("*/opt.txt"))
                  if "vq_name" in (o := read_options(p)) and not _is_residual(o) and (p.parent / "model").is_dir()]
    if len(candidates) != 1:
        found = ", ".join(c.name for c in candidates) or "none"
        raise CheckpointError(f"{folder} is neither a KeyMask model folder ({BUNDLE_FILE}) nor an official "
                              f"checkpoint folder with exactly one masked transformer (found: {found}).")
    return candidates[0]


def _find_official_residual(dataset_dir: Path, vq_name: str) -> Path:
    matches = [p.parent for p in sorted(dataset_dir.glob("*/opt.txt"))
               if _is_residual(o := read_options(p)) and o.get("vq_name") == vq_name]
    if not matches:
        raise CheckpointError(f"No residual transformer for the RVQ-VAE '{vq_name}' in {dataset_dir}: copy the "
                              "official residual transformer folder beside the masked transformer's.")
    return matches[0]


def _load_official_length_estimator(path: Path) -> LengthEstimator:
    state = load_checkpoint(path, "estimator")
    if "output.0.weight" not in state or "output.11.weight" not in state:
        raise CheckpointError(f"{path} is not an official length estimator (no output.0 / output.11 weights).")
    text_dim, n_classes = state["output.0.weight"].shape[1], state["output.11.weight"].shape[0]
    model = LengthEstimator(LengthEstimatorConfig(text_dim=text_dim, n_classes=n_classes))
    load_state_strict(model, state, path)
    return model.eval()
