"""The torch modules behind the numpy interface of `interface.py`, and their numpy twins.

Used for official checkpoints, for models being trained (evaluation during training) and on a
GPU. Each call moves its inputs to the model's device, runs in eval mode without gradients (the
model's training flag is given back afterwards) and returns numpy arrays.
"""

from contextlib import contextmanager

import numpy as np
import torch

from keymask.core.backends.interface import MotionModels
from keymask.core.backends.numpy_models import (
    NumpyLengthEstimator,
    NumpyMaskTransformer,
    NumpyResidualTransformer,
    NumpyRVQVAE,
)
from keymask.core.models.length_estimator import LengthEstimator
from keymask.core.models.mask_transformer import MaskTransformer
from keymask.core.models.residual_transformer import ResidualTransformer
from keymask.core.models.rvq_vae import RVQVAE


@contextmanager
def _inference(model: torch.nn.Module):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


class _Wrapped:
    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.config = model.config

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), device=_device(self.model))


class TorchRVQVAE(_Wrapped):
    model: RVQVAE

    def encode(self, motion: np.ndarray) -> np.ndarray:  # (B, T, D) -> (B, N, Q)
        with _inference(self.model):
            return self.model.encode(self._tensor(motion).float()).cpu().numpy()

    def decode(self, ids: np.ndarray) -> np.ndarray:  # (B, N, Q') -> (B, T, D)
        with _inference(self.model):
            return self.model.decode(self._tensor(ids).long()).cpu().numpy()


class TorchMaskTransformer(_Wrapped):
    model: MaskTransformer

    def __init__(self, model: MaskTransformer):
        super().__init__(model)
        self.mask_id, self.pad_id = model.mask_id, model.pad_id

    def guided_logits(self, ids, text, padding, guidance_scale: float, *, positions=None) -> np.ndarray:  # (B, N, V)
        """Every position's logits (the torch module is the reference; `positions` is not needed here)."""
        with _inference(self.model):
            logits = self.model.guided_logits(self._tensor(ids).long(), self._tensor(text).float(),
                                              self._tensor(padding).bool(), guidance_scale)
        return logits.cpu().numpy()


class TorchResidualTransformer(_Wrapped):
    model: ResidualTransformer

    def __init__(self, model: ResidualTransformer):
        super().__init__(model)
        self.pad_id = model.pad_id

    def embedding_tables(self) -> np.ndarray:  # (Q-1, V, C)
        with torch.no_grad():
            return self.model.embedding_tables().detach().cpu().numpy()

    def guided_logits(self, history, layer: int, text, padding, guidance_scale: float) -> np.ndarray:  # (B, N, V + 1)
        with _inference(self.model):
            logits = self.model.guided_logits(self._tensor(history).float(), layer, self._tensor(text).float(),
                                              self._tensor(padding).bool(), guidance_scale)
        return logits.cpu().numpy()


class TorchLengthEstimator(_Wrapped):
    model: LengthEstimator

    def logits(self, text: np.ndarray) -> np.ndarray:  # (B, n_classes)
        with _inference(self.model):
            return self.model(self._tensor(text).float()).cpu().numpy()


def torch_models(*, vq: RVQVAE, mask_transformer: MaskTransformer, residual_transformer: ResidualTransformer,
                 mean: np.ndarray, std: np.ndarray, text_encoder: str, length_estimator: LengthEstimator | None = None,
                 info: dict | None = None) -> MotionModels:
    """Torch modules (on whatever device they are) behind the numpy interface."""
    estimator = TorchLengthEstimator(length_estimator) if length_estimator is not None else None
    return MotionModels(vq=TorchRVQVAE(vq), mask_transformer=TorchMaskTransformer(mask_transformer),
                        residual_transformer=TorchResidualTransformer(residual_transformer),
                        mean=np.asarray(mean, dtype=np.float32), std=np.asarray(std, dtype=np.float32),
                        text_encoder=text_encoder, length_estimator=estimator, backend="torch", info=dict(info or {}))


def torch_modules(models: MotionModels) -> dict[str, torch.nn.Module]:
    """The torch module of each network of torch-backed `models`, by field name (no length estimator: absent)."""
    parts = {"vq": models.vq, "mask_transformer": models.mask_transformer,
             "residual_transformer": models.residual_transformer, "length_estimator": models.length_estimator}
    if not all(isinstance(part, _Wrapped) for part in parts.values() if part is not None):
        raise TypeError(f"These models run on {models.backend}, not on torch modules.")
    return {name: part.model for name, part in parts.items() if part is not None}


def numpy_models_from_torch(models: MotionModels) -> MotionModels:
    """The numpy twins of torch-backed `models` in memory (e.g. official checkpoints)."""
    modules = torch_modules(models)
    numpy_classes = {"vq": NumpyRVQVAE, "mask_transformer": NumpyMaskTransformer,
                     "residual_transformer": NumpyResidualTransformer, "length_estimator": NumpyLengthEstimator}
    twins = {name: numpy_classes[name].from_state(module.config, {k: v.detach().cpu().numpy()
                                                                  for k, v in module.state_dict().items()},
                                                  "the in-memory model")
             for name, module in modules.items()}
    return MotionModels(**twins, mean=models.mean, std=models.std, text_encoder=models.text_encoder,
                        backend="numpy", info=dict(models.info))
