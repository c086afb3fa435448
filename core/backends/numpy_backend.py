"""KeyMask model folders run by the numpy models: no torch import, so generation starts fast."""

from pathlib import Path

from keymask.core.backends.interface import MotionModels
from keymask.core.backends.numpy_models import (
    NumpyLengthEstimator,
    NumpyMaskTransformer,
    NumpyResidualTransformer,
    NumpyRVQVAE,
)
from keymask.core.models.saved import read_bundle_document, read_statistics


def load_numpy_models(folder: str | Path) -> MotionModels:
    """A KeyMask model folder (keymask_model.json, one sub-folder per model, mean/std)."""
    folder = Path(folder)
    text_encoder, info = read_bundle_document(folder)
    mean, std = read_statistics(folder)
    estimator = None
    if (folder / "length_estimator").exists():
        estimator = NumpyLengthEstimator.from_folder(folder / "length_estimator")
    return MotionModels(vq=NumpyRVQVAE.from_folder(folder / "rvq_vae"),
                        mask_transformer=NumpyMaskTransformer.from_folder(folder / "mask_transformer"),
                        residual_transformer=NumpyResidualTransformer.from_folder(folder / "residual_transformer"),
                        mean=mean, std=std, text_encoder=text_encoder, length_estimator=estimator,
                        backend="numpy", info=info)
