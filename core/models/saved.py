"""The on-disk layout of saved models, read without torch.

One model: a folder with `config.json` (its kind and config dataclass) and `model.safetensors`.
A complete KeyMask model: a folder with `keymask_model.json` (format, text encoder, licence
notes), one sub-folder per model and the feature statistics `mean.npy` / `std.npy`.
`persistence.py` and `bundle.py` write these and load them into torch modules; the numpy backend
loads them directly.
"""

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import numpy as np

from keymask.core.errors import KeyMaskError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
BUNDLE_FILE = "keymask_model.json"
BUNDLE_FORMAT = 1
CLIP_TEXT_ENCODER = "clip"


class CheckpointError(KeyMaskError, ValueError):
    """A checkpoint that is missing, corrupt, of the wrong kind or of the wrong shape: one sentence."""


def config_to_dict(config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_dict(config_class, values: dict[str, Any], source: Path):
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise CheckpointError(f"{source} has unknown settings {unknown} for {config_class.__name__}: "
                              "it was written by another version or for another model.")
    hints = typing.get_type_hints(config_class)
    converted = {}
    for name, value in values.items():
        if isinstance(value, list) and typing.get_origin(hints.get(name)) is tuple:
            value = tuple(value)
        converted[name] = value
    return config_class(**converted)


def read_config(folder: str | Path, kind: str, config_class):
    """The config dataclass saved in `folder`, checking that the folder holds a `kind` model."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.exists():
            raise CheckpointError(f"{path} is missing: a saved {kind} is a folder with {CONFIG_FILE} and {WEIGHTS_FILE}.")
    try:
        document = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{config_path} is not valid JSON (line {error.lineno}).") from error
    if not isinstance(document, dict) or document.get("kind") != kind:
        found = document.get("kind") if isinstance(document, dict) else None
        raise CheckpointError(f"{folder} holds a {found!r}, not a {kind!r}.")
    return config_from_dict(config_class, document.get("config", {}), config_path)


def read_numpy_weights(folder: str | Path) -> dict[str, np.ndarray]:
    """The arrays of `folder/model.safetensors`, by name."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(folder) / WEIGHTS_FILE
    try:
        return load_file(path)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} cannot be read (corrupt or truncated): {error}") from error


def read_bundle_document(folder: Path) -> tuple[str, dict[str, Any]]:
    """(text encoder name, other notes) from a KeyMask model folder's keymask_model.json."""
    path = Path(folder) / BUNDLE_FILE
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON (line {error.lineno}).") from error
    if not isinstance(document, dict) or document.get("format") != BUNDLE_FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise CheckpointError(f"{path} has format {found}; this KeyMask reads format {BUNDLE_FORMAT}.")
    if not isinstance(document.get("text_encoder"), str):
        raise CheckpointError(f"{path} does not name the text encoder the model was trained with.")
    return document["text_encoder"], {k: v for k, v in document.items() if k not in ("format", "text_encoder")}


def read_statistics(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(mean (D,), std (D,)) float32 feature statistics of a KeyMask model folder."""
    arrays = []
    for name in ("mean.npy", "std.npy"):
        path = Path(folder) / name
        if not path.exists():
            raise CheckpointError(f"{path} is missing: a model folder needs the feature statistics it was trained with.")
        try:
            arrays.append(np.load(path).astype(np.float32))
        except (ValueError, OSError) as error:
            raise CheckpointError(f"{path} cannot be read (corrupt or truncated): {error}") from error
    mean, std = arrays
    if mean.ndim != 1 or mean.shape != std.shape:
        raise CheckpointError(f"The feature statistics in {folder} have shapes {mean.shape} and {std.shape}; "
                              "both must be (D,).")
    return mean, std
