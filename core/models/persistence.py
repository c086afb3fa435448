"""Models persist themselves: `config.json` (the config dataclass) + `model.safetensors` (weights).

A model class mixes in `SavesPretrained`, sets `config_class` and `kind`, and takes its config as
the first constructor argument; `save_pretrained(folder)` and `Class.from_pretrained(folder)` do
the rest with no key guessing. Loading is strict: the kind, every key and every shape must match.
"""

from pathlib import Path
from typing import ClassVar

import torch
from keymask.core.fileio import ensure_output_dir, write_bytes, write_json
from keymask.core.models.official.options import load_state_strict
from keymask.core.models.saved import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, config_to_dict, read_config
from safetensors import SafetensorError
from safetensors.torch import load_file, save


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
        weights_path = folder / WEIGHTS_FILE
        model = cls(read_config(folder, cls.kind, cls.config_class))
        try:
            state = load_file(weights_path, device=str(map_location))
        except (SafetensorError, OSError) as error:
            raise CheckpointError(f"{weights_path} cannot be read (corrupt or truncated): {error}") from error
        load_state_strict(model, state, weights_path)
        return model.eval()
