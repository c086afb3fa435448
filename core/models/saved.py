"""The on-disk layout of saved models, read without torch.

One model: a folder with `config.json` (its kind and config dataclass) and `model.safetensors`.
A complete KeyMask model: a folder with `keymask_model.json` (format, text encoder, licence
notes), one sub-folder per model and the feature statistics `mean.npy` / `std.npy`.
`persistence.py` and `bundle.py` write these and load them into torch modules; the numpy backend
loads them directly.
"""

import dataclasses
import json
import mmap
import typing
from collections.abc import Mapping
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
    """The arrays of `folder/model.safetensors`, by name (memory-mapped, read-only)."""
    return map_safetensors(Path(folder) / WEIGHTS_FILE)


_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
                       "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def map_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file as read-only arrays mapped from the file, by name.

    Nothing is read until it is used, so a large table of which a prompt touches a few rows (a
    sentence encoder's word embeddings) costs memory only for those rows.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            header_size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(header_size)) if 0 < header_size < 100_000_000 else None
        start, size = 8 + header_size, path.stat().st_size
        if not isinstance(header, dict) or start > size:
            raise ValueError("no safetensors header")
        data = None
        if size > start:
            with open(path, "rb") as handle:
                data = np.frombuffer(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ), dtype=np.uint8)[start:]
        tensors = {}
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            dtype = np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]])
            begin, end = entry["data_offsets"]
            shape = tuple(entry["shape"])
            if end > size - start or end - begin != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
                raise ValueError(f"tensor {name} lies outside the file")
            tensors[name] = data[begin:end].view(dtype).reshape(shape) if end > begin else np.zeros(shape, dtype)
        return tensors
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        if isinstance(error, FileNotFoundError):
            raise CheckpointError(f"{path} does not exist.") from None
        raise CheckpointError(f"{path} cannot be read (corrupt or truncated): {error}") from error


def release_mapped_pages(tensors: Mapping[str, np.ndarray]) -> None:
    """Hand the memory of tensors from `map_safetensors` back to the system.

    Nothing is lost: the pages are read again (from the file cache, in milliseconds) when next
    used. A sentence encoder calls this after each batch, so its 90 MB file weighs on the peak
    memory of a generation only while prompts are encoded.
    """
    mappings = {}
    for array in tensors.values():
        base = array
        while isinstance(base, (np.ndarray, memoryview)):
            base = base.base if isinstance(base, np.ndarray) else base.obj
        if isinstance(base, mmap.mmap):
            mappings[id(base)] = base
    for mapping in mappings.values():
        mapping.madvise(mmap.MADV_DONTNEED)


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
