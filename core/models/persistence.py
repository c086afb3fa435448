"""Models persist themselves: `config.json` (the config dataclass) + `model.safetensors` (weights).

A model class mixes in `SavesPretrained`, sets `config_class` and `kind`, and takes its config as
the first constructor argument; `save_pretrained(folder)` and `Class.from_pretrained(folder)` do
the rest with no key guessing. Loading is strict: the kind, every key and every shape must match.
"""

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from keymask.core.fileio import ensure_output_dir, write_bytes, write_json
from keymask.core.models.official.options import CheckpointError, load_state_strict

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


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


class SavesPretrained:
    config_class: ClassVar[type]
    kind: ClassVar[str]

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = ensure_output_dir(folder)
        weights = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        write_bytes(folder / WEIGHTS_FILE, save(weights, metadata={"kind": self.kind}))
        write_json(folder / CONFIG_FILE, {"kind": self.kind, "config": config_to_dict(self.config)})
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path, map_location: str | torch.device = "cpu"):
        folder = Path(folder)
        config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.exists():
                raise CheckpointError(f"{path} is missing: a saved {cls.kind} is a folder with "
                                      f"{CONFIG_FILE} and {WEIGHTS_FILE}.")
        try:
            document = json.loads(config_path.read_text())
        except json.JSONDecodeError as error:
            raise CheckpointError(f"{config_path} is not valid JSON (line {error.lineno}).") from error
        if document.get("kind") != cls.kind:
            raise CheckpointError(f"{folder} holds a {document.get('kind')!r}, not a {cls.kind!r}.")
        model = cls(config_from_dict(cls.config_class, document.get("config", {}), config_path))
        try:
            state = load_file(weights_path, device=str(map_location))
        except (SafetensorError, OSError) as error:
            raise CheckpointError(f"{weights_path} cannot be read (corrupt or truncated): {error}") from error
        load_state_strict(model, state, weights_path)
        return model.eval()
