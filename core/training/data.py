"""Training data from a built dataset folder (see core/data/build.py): normalised feature windows."""

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from keymask.core.fileio import atomic_write


def read_split(dataset_dir: Path, split: str) -> list[str]:
    path = Path(dataset_dir) / "splits" / f"{split}.txt"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build the dataset first with `keymask data build`.")
    return path.read_text().split()


def load_statistics(dataset_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    dataset_dir = Path(dataset_dir)
    return np.load(dataset_dir / "mean.npy"), np.load(dataset_dir / "std.npy")


class FeatureWindows(Dataset):
    """Every window of `window` frames of every clip in a split, normalised: item (window, D) float32.

    Clips shorter than the window are left out. Windows start at every frame, so one pass sees
    each frame about `window` times, as the official RVQ-VAE training samples them.
    """

    def __init__(self, dataset_dir: str | Path, split: str, window: int = 64):
        dataset_dir = Path(dataset_dir)
        mean, std = load_statistics(dataset_dir)
        self.window = window
        self.clips: list[np.ndarray] = []
        for clip_id in read_split(dataset_dir, split):
            features = np.load(dataset_dir / "features" / f"{clip_id}.npy")
            if len(features) >= window:
                self.clips.append(((features - mean) / std).astype(np.float32))
        if not self.clips:
            raise ValueError(f"No clip of the '{split}' split in {dataset_dir} lasts {window} frames.")
        starts = np.array([len(c) - window + 1 for c in self.clips])
        self._ends = np.cumsum(starts)  # window k belongs to the first clip whose end exceeds k

    def __len__(self) -> int:
        return int(self._ends[-1])

    def __getitem__(self, index: int) -> torch.Tensor:
        clip = int(np.searchsorted(self._ends, index, side="right"))
        start = index - (int(self._ends[clip - 1]) if clip else 0)
        return torch.from_numpy(self.clips[clip][start: start + self.window])


def clip_features(dataset_dir: str | Path, split: str) -> dict[str, np.ndarray]:
    """clip id -> un-normalised features (T, D) for every clip of a split (evaluation)."""
    dataset_dir = Path(dataset_dir)
    return {clip_id: np.load(dataset_dir / "features" / f"{clip_id}.npy") for clip_id in read_split(dataset_dir, split)}


def manifest(dataset_dir: str | Path) -> dict[str, dict]:
    lines = (Path(dataset_dir) / "manifest.jsonl").read_text().splitlines()
    return {record["clip_id"]: record for record in map(json.loads, lines)}


@torch.no_grad()
def embed_captions(caption_lists: list[list[str]], text_encoder, batch_size: int = 256,
                   progress: bool = True, cache: str | Path | None = None) -> list[torch.Tensor]:
    """Per clip (captions, text_dim) embeddings; each distinct sentence is encoded once (the
    built captions repeat a lot).

    cache: an .npz of sentences and their embeddings by this encoder, read first and written
    back with the new ones (a dataset's 50,000 captions take about 20 minutes on 2 CPU cores).
    """
    distinct = sorted({caption for captions in caption_lists for caption in captions})
    rows = _read_caption_cache(cache, text_encoder.name)
    missing = [caption for caption in distinct if caption not in rows]
    for start in tqdm(range(0, len(missing), batch_size), desc="caption embeddings", disable=not progress):
        chunk = missing[start: start + batch_size]
        rows.update(zip(chunk, torch.as_tensor(text_encoder.encode(chunk)).float()))
    if cache is not None and missing:
        with atomic_write(cache, "wb") as handle:
            np.savez(handle, encoder=np.array(text_encoder.name), captions=np.array(list(rows)),
                     embeddings=torch.stack(list(rows.values())).numpy())
    return [torch.stack([rows[caption] for caption in captions]) for captions in caption_lists]


def caption_cache_path(dataset_dir: str | Path, encoder_name: str) -> Path:
    """Where a built dataset keeps its captions' embeddings by one text encoder."""
    return Path(dataset_dir) / f"caption_embeddings_{encoder_name}.npz"


def _read_caption_cache(cache: str | Path | None, encoder_name: str) -> dict[str, torch.Tensor]:
    if cache is None or not Path(cache).exists():
        return {}
    with np.load(cache) as stored:
        if str(stored["encoder"]) != encoder_name:
            return {}
        return dict(zip(stored["captions"].tolist(), torch.from_numpy(stored["embeddings"])))


def dataset_license(dataset_dir: str | Path) -> str:
    """The licences of the sources a built dataset holds, as one text (for a model trained on it)."""
    info = json.loads((Path(dataset_dir) / "build_info.json").read_text())
    licenses = info.get("licenses") or {"bandai": info.get("license", "")}
    return "Trained on data under these licences (a model keeps the strictest): " + " ".join(
        f"[{name}] {text}" for name, text in licenses.items())
