"""The torch modules behind the numpy interface of `interface.py`.

Used for official checkpoints, for models being trained (evaluation during training) and on a
GPU. Each call moves its inputs to the model's device, runs in eval mode without gradients (the
model's training flag is given back afterwards) and returns numpy arrays.
"""

from contextlib import contextmanager

import numpy as np
import torch

from keymask.core.backends.interface import MotionModels
from keymask.core.models.bundle import MotionModelBundle
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

    def guided_logits(self, ids, text, padding, guidance_scale: float) -> np.ndarray:  # (B, N, V)
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


def torch_models(bundle: MotionModelBundle) -> MotionModels:
    """The bundle's modules (on whatever device they are) behind the numpy interface."""
    estimator = TorchLengthEstimator(bundle.length_estimator) if bundle.length_estimator is not None else None
    return MotionModels(vq=TorchRVQVAE(bundle.vq), mask_transformer=TorchMaskTransformer(bundle.mask_transformer),
                        residual_transformer=TorchResidualTransformer(bundle.residual_transformer),
                        mean=np.asarray(bundle.mean, dtype=np.float32), std=np.asarray(bundle.std, dtype=np.float32),
                        text_encoder=bundle.text_encoder, length_estimator=estimator, backend="torch",
                        info=dict(bundle.info))
