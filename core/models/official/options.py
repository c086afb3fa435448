"""The official option files (`opt.txt`) and checkpoint archives (`model/*.tar`).

opt.txt: a header line, then `key: value` lines, then an end line, e.g.

    ------------ Options -------------
    nb_code: 512
    vq_norm: None
    -------------- End ----------------
"""

from pathlib import Path
from typing import Any

import torch

from keymask.core.models.saved import CheckpointError


def _parse_value(text: str) -> Any:
    text = text.strip()
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_options(path: str | Path) -> dict[str, Any]:
    """`key: value` pairs of an official opt.txt, with ints, floats, booleans and None converted."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is missing: an official checkpoint folder needs its opt.txt.")
    options: dict[str, Any] = {}
    for line_number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("---"):
            continue
        key, separator, value = stripped.partition(":")
        if not separator or not key.strip():
            raise CheckpointError(f"{path}, line {line_number}: expected 'key: value', got {stripped[:60]!r}.")
        options[key.strip()] = _parse_value(value)
    if not options:
        raise CheckpointError(f"{path} holds no options: is it an official opt.txt?")
    return options


def require_options(options: dict[str, Any], keys: list[str], source: str | Path) -> None:
    missing = [k for k in keys if k not in options]
    if missing:
        raise CheckpointError(f"{source} lacks the option(s) {', '.join(missing)}: is it the right kind of model?")


def load_checkpoint(path: str | Path, key: str) -> dict[str, torch.Tensor]:
    """The state dict stored under `key` in an official torch.save archive, loaded with weights_only."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"The checkpoint {path} is missing.")
    try:
        archive = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated, corrupt or unsafe files
        raise CheckpointError(f"The checkpoint {path} cannot be read (corrupt, truncated or not a torch file): "
                              f"{str(error).splitlines()[0][:160]}") from error
    if not isinstance(archive, dict) or key not in archive:
        found = sorted(archive)[:6] if isinstance(archive, dict) else type(archive).__name__
        raise CheckpointError(f"The checkpoint {path} has no '{key}' entry (it has {found}): it is not the kind "
                              "of model expected here.")
    state = archive[key]
    if not isinstance(state, dict):
        raise CheckpointError(f"The '{key}' entry of {path} is not a state dict.")
    return state


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path,
                      ignore_prefixes: tuple[str, ...] = ()) -> None:
    """Load `state` into `module`, naming the file and the first offending key on any mismatch."""
    state = {k: v for k, v in state.items() if not k.startswith(ignore_prefixes)}
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        raise CheckpointError(f"The checkpoint {source} lacks the weight '{missing[0]}'"
                              f"{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}: "
                              "it was made for another model or configuration.")
    if unexpected:
        raise CheckpointError(f"The checkpoint {source} has an unexpected weight '{unexpected[0]}'"
                              f"{f' (and {len(unexpected) - 1} more)' if len(unexpected) > 1 else ''}: "
                              "it was made for another model or configuration.")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(f"The checkpoint {source} has '{name}' of shape {tuple(tensor.shape)}, but the "
                                  f"configuration needs {tuple(expected[name].shape)}.")
    module.load_state_dict(state, strict=True)
