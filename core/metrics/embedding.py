"""Statistics on evaluator embeddings, as the HumanML3D benchmark defines them.

- FID: Fréchet distance between the Gaussian fits of two sets of motion embeddings.
- R-precision: the pairs are shuffled into groups of 32; within a group each text ranks the 32
  motions by distance, and top-k counts the texts whose own motion is among the k nearest.
- Matching score: mean distance between each text and its own motion.
- Diversity: mean distance between two random sets of `pairs` motions.
- Multimodality: for each text with several motions, mean distance between random pairs of them.
All distances are Euclidean. Randomness comes from an explicit seed.
"""

import numpy as np
from scipy import linalg


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, E), (M, E) -> (N, M)"""
    squared = (a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """(N, E), (M, E) embeddings -> FID between their Gaussian fits."""
    if len(first) < 2 or len(second) < 2:
        raise ValueError("The Fréchet distance needs at least two embeddings on each side.")
    mu1, mu2 = first.mean(0), second.mean(0)
    cov1, cov2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    root = linalg.sqrtm(cov1 @ cov2)
    if not np.isfinite(root).all():  # nearly singular product: regularise, as the usual FID code does
        offset = np.eye(len(cov1)) * 1e-6
        root = linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    root = np.real(root)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root))


def r_precision(text: np.ndarray, motion: np.ndarray, *, top_k: int = 3, group_size: int = 32,
                seed: int = 0) -> np.ndarray:
    """text, motion (N, E) paired by row -> (top_k,) share of texts whose motion ranks within 1..k.
    The last incomplete group is left out, as in the benchmark."""
    if text.shape != motion.shape:
        raise ValueError(f"Texts {text.shape} and motions {motion.shape} must pair up row by row.")
    order = np.random.default_rng(seed).permutation(len(text))
    groups = len(text) // group_size
    if groups == 0:
        raise ValueError(f"R-precision needs at least {group_size} pairs; got {len(text)}.")
    hits = np.zeros(top_k)
    for g in range(groups):
        rows = order[g * group_size: (g + 1) * group_size]
        distances = _pairwise_distances(text[rows], motion[rows])  # (G texts, G motions)
        own = np.diag(distances)[:, None]
        rank = (distances < own).sum(1)  # 0 when the own motion is the nearest
        hits += np.array([(rank < k).sum() for k in range(1, top_k + 1)])
    return hits / (groups * group_size)


def matching_score(text: np.ndarray, motion: np.ndarray) -> float:
    return float(np.linalg.norm(text - motion, axis=-1).mean())


def diversity(motion: np.ndarray, *, pairs: int = 300, seed: int = 0) -> float:
    """motion (N, E) -> mean distance between `pairs` random pairs (fewer when N is small)."""
    if len(motion) < 2:
        raise ValueError("Diversity needs at least two motions.")
    pairs = min(pairs, len(motion) - 1)
    rng = np.random.default_rng(seed)
    first = rng.choice(len(motion), pairs, replace=False)
    second = rng.choice(len(motion), pairs, replace=False)
    return float(np.linalg.norm(motion[first] - motion[second], axis=-1).mean())


def multimodality(motion: np.ndarray, *, pairs: int = 10, seed: int = 0) -> float:
    """motion (texts, samples, E) -> mean distance between `pairs` random pairs of one text's samples."""
    if motion.ndim != 3 or motion.shape[1] < 2:
        raise ValueError(f"Multimodality needs (texts, samples >= 2, E) embeddings; got {motion.shape}.")
    pairs = min(pairs, motion.shape[1] - 1)
    rng = np.random.default_rng(seed)
    first = rng.choice(motion.shape[1], pairs, replace=False)
    second = rng.choice(motion.shape[1], pairs, replace=False)
    return float(np.linalg.norm(motion[:, first] - motion[:, second], axis=-1).mean())
