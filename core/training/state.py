"""Resumable training state: model, optimizer, schedule, step and random generators in one file."""

import io
from pathlib import Path

import torch

from keymask.core.fileio import write_bytes
from keymask.core.models.official.options import CheckpointError

STATE_FILE = "training_state.pt"


def save_state(folder: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler | None, step: int, config: dict) -> Path:
    state = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler else None, "step": step, "config": config,
        "torch_rng": torch.get_rng_state(),  # training draws randomness from torch only
        # State a model keeps outside its state dict (e.g. EMA codebook statistics).
        "model_extra": model.training_state() if hasattr(model, "training_state") else None,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path = Path(folder) / STATE_FILE
    write_bytes(path, buffer.getvalue())
    return path


def load_state(folder: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler | None, config: dict) -> int:
    """Restore a run saved by save_state; returns the step to continue from (0 when there is none)."""
    path = Path(folder) / STATE_FILE
    if not path.exists():
        return 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"The training state {path} cannot be read ({str(error).splitlines()[0][:120]}); "
                              "delete it to start over.") from error
    if state["config"] != config:
        changed = sorted(k for k in set(config) | set(state["config"]) if config.get(k) != state["config"].get(k))
        raise CheckpointError(f"{path} was saved with other settings ({', '.join(changed)}): resume with the same "
                              "settings or choose a new output folder.")
    _load_model(model, state)
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


def load_weights(folder: Path, model: torch.nn.Module, name: str | None = None) -> int:
    """Warm-start `model` from another run's state (weights and model extras, not the optimizer);
    returns the step that run had reached. A folder without a state may be a saved model: its
    `<name>/model.safetensors` (a model folder such as the shipped default) starts the run."""
    path = Path(folder) / STATE_FILE
    saved = Path(folder) / (name or "") / "model.safetensors"
    if not path.exists() and name and saved.exists():
        _load_saved_model(model, saved)
        return 0
    if not path.exists():
        raise CheckpointError(f"There is no training state in {folder} to start from; give a run folder "
                              f"that holds {STATE_FILE} or a model folder that holds {name or '<model>'}/model.safetensors.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        _load_model(model, state)
    except RuntimeError as error:
        raise CheckpointError(f"The run in {folder} trained a differently shaped model "
                              f"({str(error).splitlines()[1].strip()[:120]}).") from error
    return int(state["step"])


def _load_saved_model(model: torch.nn.Module, path: Path) -> None:
    """Weights saved by save_pretrained (the bare model), into `model` or the objective wrapping it."""
    from safetensors.torch import load_file

    weights = load_file(str(path))
    expected = set(model.state_dict())
    for prefix in {key.split(".")[0] + "." for key in expected}:  # the objective's attribute holding the model
        if set(weights) != expected and {prefix + key for key in weights} == expected:
            weights = {prefix + key: value for key, value in weights.items()}
    try:
        model.load_state_dict(with_wider_feed_forward(weights, model.state_dict()))
    except RuntimeError as error:
        raise CheckpointError(f"The model in {path.parent} is shaped differently "
                              f"({str(error).splitlines()[1].strip()[:120]}).") from error


def _load_model(model: torch.nn.Module, state: dict) -> None:
    """The weights, and what the model keeps outside its state dict (see save_state)."""
    model.load_state_dict(with_wider_feed_forward(state["model"], model.state_dict()))
    if state.get("model_extra") is not None:
        model.load_training_state(state["model_extra"])


FEED_FORWARD_IN, FEED_FORWARD_OUT = "linear1.", "linear2.weight"  # nn.TransformerEncoderLayer's names


def with_wider_feed_forward(weights: dict[str, torch.Tensor],
                            target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`weights` of a model whose transformer layers have a narrower feed-forward block than
    `target`'s, placed so that the wider model computes exactly what the narrower one did: the old
    hidden units keep their weights, the new ones keep `target`'s fresh input weights and get zero
    output weights (they learn from there). Every other weight must already have its shape;
    anything else is returned unchanged, for load_state_dict to refuse with its own message."""
    grown = dict(weights)
    for key, saved in weights.items():
        fresh = target.get(key)
        if fresh is None or fresh.shape == saved.shape or saved.dim() != fresh.dim():
            continue
        if FEED_FORWARD_IN not in key and not key.endswith(FEED_FORWARD_OUT):
            return weights
        if any(s > f for s, f in zip(saved.shape, fresh.shape)):
            return weights
        wider = fresh.detach().clone()
        if key.endswith(FEED_FORWARD_OUT):
            wider.zero_()  # (D, F): the new units' outputs start at zero
        wider[tuple(slice(0, n) for n in saved.shape)] = saved
        grown[key] = wider
    return grown
