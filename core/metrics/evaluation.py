"""The benchmark: a model's motions against real data, through the trained evaluator.

Real floor: the test split's own motions scored like a model's (FID against the training split,
R-precision and matching with their captions, diversity, physical metrics). Model: one motion per
test clip, generated from one of its captions at the clip's length, scored the same way; FID is
given against the training split (comparable with the floor) and against the test split (the
benchmark's usual reference). Paraphrases: prompts worded unlike the captions, each generated
motion classified by the nearest training-split action centroid in the evaluator's space.
"""

import copy
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from keymask.core.features import recover_from_ric
from keymask.core.metrics.embedding import diversity, frechet_distance, matching_score, multimodality, r_precision
from keymask.core.metrics.evaluator import MotionTextEvaluator
from keymask.core.metrics.physical import PhysicalReport, physical_report
from keymask.core.spec import HUMANML3D
from keymask.core.text.prompts import TextEncoder
from keymask.core.training.data import manifest, read_split

# (prompts, lengths in frames or None for the model's own choice, seed) -> one motion per prompt, as
# (features (T_i, D) for the evaluator, joints (T_i, J, 3) as delivered, e.g. after clean-up)
GenerateMotions = Callable[[Sequence[str], Sequence[int] | None, int], list[tuple[np.ndarray, np.ndarray]]]


@dataclass
class EvaluationSettings:
    split: str = "test"
    batch_size: int = 32  # prompts generated per call
    group_size: int = 32  # R-precision: each text ranks its motion among this many
    multimodality_texts: int = 32
    multimodality_samples: int = 10
    seed: int = 0


@dataclass
class EvalClips:
    clip_ids: list[str]
    features: list[np.ndarray]  # (T_i, D) raw, at most 196 frames, whole tokens
    captions: list[str]  # one chosen caption per clip
    contents: list[str]  # action label per clip


@dataclass
class Scores:
    fid_train: float  # against the training split's motions
    fid_test: float | None  # against the test split's (None for the real data itself)
    r_precision: tuple[float, float, float]
    matching: float
    diversity: float
    multimodality: float | None
    physical: PhysicalReport

    def as_dict(self) -> dict:
        values = asdict(self)
        values["physical"] = self.physical.as_dict()
        return values


@dataclass
class ParaphraseResult:
    prompt: str
    accepts: list[str]
    predicted: str

    @property
    def correct(self) -> bool:
        return self.predicted in self.accepts


@dataclass
class ParaphraseReport:
    results: list[ParaphraseResult]
    real_accuracy: float  # the classifier on the test split's real motions (its ceiling)

    @property
    def accuracy(self) -> float:
        return float(np.mean([r.correct for r in self.results]))


@dataclass
class EvaluationReport:
    real: Scores
    model: Scores | None = None
    paraphrases: ParaphraseReport | None = None
    extra: dict = field(default_factory=dict)


def load_eval_clips(dataset_dir: str | Path, split: str, *, seed: int = 0, max_frames: int = HUMANML3D.max_frames,
                    min_frames: int = 16) -> EvalClips:
    """Each clip of a split, cut to whole tokens and at most max_frames, with one seeded caption."""
    dataset_dir = Path(dataset_dir)
    records = manifest(dataset_dir)
    rng = np.random.default_rng(seed)
    clips = EvalClips([], [], [], [])
    for clip_id in read_split(dataset_dir, split):
        features = np.load(dataset_dir / "features" / f"{clip_id}.npy")
        length = min(len(features), max_frames) // HUMANML3D.frames_per_token * HUMANML3D.frames_per_token
        if length < min_frames:
            continue
        record = records[clip_id]
        if record.get("source") == "joined":  # made by joining clips: not real data, no single action
            continue
        clips.clip_ids.append(clip_id)
        clips.features.append(features[:length].astype(np.float32))
        clips.captions.append(record["captions"][int(rng.integers(len(record["captions"])))])
        clips.contents.append(record["content"])
    return clips


@torch.no_grad()
def embed_motions(evaluator: MotionTextEvaluator, features: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
    """raw features, one (T_i, D) per motion -> (N, E); a motion longer than the evaluator's window is
    seen through the middle of it (the evaluator was trained on clips of at most that length)."""
    window = evaluator.config.max_frames - 1  # features have one frame fewer than joints
    features = [f if len(f) <= window else f[(len(f) - window) // 2:][:window] for f in features]
    rows = []
    for start in range(0, len(features), batch_size):
        chunk = features[start: start + batch_size]
        lengths = torch.tensor([len(f) for f in chunk])
        padded = torch.zeros(len(chunk), int(lengths.max()), chunk[0].shape[-1])
        for i, f in enumerate(chunk):
            padded[i, : len(f)] = torch.as_tensor(f)
        rows.append(evaluator.encode_motion(padded, lengths).numpy())
    return np.concatenate(rows)


@torch.no_grad()
def embed_texts(evaluator: MotionTextEvaluator, text_encoder: TextEncoder, texts: Sequence[str],
                batch_size: int = 256) -> np.ndarray:
    rows = [evaluator.encode_text(text_encoder.encode(list(texts[s: s + batch_size]))).numpy()
            for s in range(0, len(texts), batch_size)]
    return np.concatenate(rows)


def score(motion: np.ndarray, text: np.ndarray, joints: Sequence[np.ndarray], train_motion: np.ndarray,
          test_motion: np.ndarray | None, *, multimodal: np.ndarray | None = None, seed: int = 0,
          group_size: int = 32) -> Scores:
    """motion, text (N, E) paired; train_motion / test_motion (M, E) references."""
    return Scores(
        fid_train=frechet_distance(motion, train_motion),
        fid_test=None if test_motion is None else frechet_distance(motion, test_motion),
        r_precision=tuple(float(v) for v in r_precision(text, motion, group_size=group_size, seed=seed)),
        matching=matching_score(text, motion),
        diversity=diversity(motion, seed=seed),
        multimodality=None if multimodal is None else multimodality(multimodal, seed=seed),
        physical=physical_report(joints),
    )


def _generate_in_batches(generate: GenerateMotions, prompts: Sequence[str], lengths: Sequence[int] | None,
                         batch_size: int, seed: int, desc: str) -> list[np.ndarray]:
    out = []
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
        chunk = slice(start, start + batch_size)
        out.extend(generate(prompts[chunk], None if lengths is None else lengths[chunk], seed + start))
    return out


class Benchmark:
    """Everything the scores need that does not depend on the model: reference embeddings."""

    def __init__(self, evaluator: MotionTextEvaluator, text_encoder: TextEncoder, dataset_dir: str | Path,
                 settings: EvaluationSettings | None = None):
        self.evaluator, self.text_encoder = evaluator.eval(), text_encoder
        self.settings = settings or EvaluationSettings()
        self.dataset_dir = Path(dataset_dir)
        self.clips = load_eval_clips(dataset_dir, self.settings.split, seed=self.settings.seed)
        self.train = load_eval_clips(dataset_dir, "train", seed=self.settings.seed)
        self.train_motion = embed_motions(evaluator, self.train.features)
        self.test_motion = embed_motions(evaluator, self.clips.features)
        self.test_text = embed_texts(evaluator, text_encoder, self.clips.captions)
        labels = sorted(set(self.train.contents))
        self.labels = labels
        self.centroids = np.stack([self.train_motion[[c == label for c in self.train.contents]].mean(0)
                                   for label in labels])  # (labels, E)

    def redrawn(self, seed: int, multimodality_texts: int | None = None) -> "Benchmark":
        """The same clips and references with another draw (`seed`): each clip's caption, the
        R-precision groups and the generation seeds, as the papers repeat their evaluation."""
        other = copy.copy(self)
        other.settings = replace(self.settings, seed=seed, multimodality_texts=(
            self.settings.multimodality_texts if multimodality_texts is None else multimodality_texts))
        other.clips = load_eval_clips(self.dataset_dir, self.settings.split, seed=seed)
        other.test_text = embed_texts(self.evaluator, self.text_encoder, other.clips.captions)
        return other

    def real_scores(self) -> Scores:
        return score(self.test_motion, self.test_text, [recover_from_ric(f) for f in self.clips.features], self.train_motion, None,
                     seed=self.settings.seed, group_size=self.settings.group_size)

    def model_scores(self, generate: GenerateMotions) -> Scores:
        s = self.settings
        lengths = [len(f) for f in self.clips.features]
        generated = _generate_in_batches(generate, self.clips.captions, lengths, s.batch_size, s.seed, "benchmark")
        motion = embed_motions(self.evaluator, [features for features, _ in generated])
        multimodal = None
        if s.multimodality_texts and s.multimodality_samples >= 2:
            rng = np.random.default_rng(s.seed)
            chosen = rng.choice(len(self.clips.captions), min(s.multimodality_texts, len(self.clips.captions)),
                                replace=False)
            prompts = [self.clips.captions[i] for i in chosen for _ in range(s.multimodality_samples)]
            mm_lengths = [lengths[i] for i in chosen for _ in range(s.multimodality_samples)]
            mm_generated = _generate_in_batches(generate, prompts, mm_lengths, s.batch_size, s.seed + 1, "multimodality")
            multimodal = embed_motions(self.evaluator, [f for f, _ in mm_generated]).reshape(
                len(chosen), s.multimodality_samples, -1)
        return score(motion, self.test_text, [joints for _, joints in generated], self.train_motion, self.test_motion, multimodal=multimodal,
                     seed=s.seed, group_size=s.group_size)

    def classify(self, motion: np.ndarray) -> list[str]:
        """(N, E) -> the nearest action centroid's label per motion."""
        distances = ((motion[:, None] - self.centroids[None]) ** 2).sum(-1)
        return [self.labels[i] for i in distances.argmin(1)]

    def paraphrases(self, generate: GenerateMotions, entries: Sequence[dict],
                    frames: int | None = None) -> ParaphraseReport:
        """Each prompt generated once, at `frames` frames or (None) the length the model chooses, then
        classified."""
        prompts = [e["prompt"] for e in entries]
        lengths = None if frames is None else [frames] * len(prompts)
        generated = _generate_in_batches(generate, prompts, lengths, self.settings.batch_size, self.settings.seed,
                                         "paraphrases")
        predicted = self.classify(embed_motions(self.evaluator, [features for features, _ in generated]))
        real = self.classify(self.test_motion)
        real_accuracy = float(np.mean([p == c for p, c in zip(real, self.clips.contents)]))
        results = [ParaphraseResult(e["prompt"], list(e["accepts"]), p) for e, p in zip(entries, predicted)]
        return ParaphraseReport(results, real_accuracy)


REPEATED = {"FID (vs train)": lambda s: s.fid_train, "R-precision top-1": lambda s: s.r_precision[0],
            "R-precision top-2": lambda s: s.r_precision[1], "R-precision top-3": lambda s: s.r_precision[2],
            "Matching score": lambda s: s.matching, "Diversity": lambda s: s.diversity,
            "Foot skating ratio": lambda s: s.physical.skating_ratio, "Floating (cm)": lambda s: s.physical.floating_cm}


def mean_and_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (1.96 standard deviations over the square
    root of the number of draws), as MoMask and its predecessors report repeated evaluations."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(1.96 * values.std() / np.sqrt(len(values)))


def load_paraphrases(path: str | Path) -> list[dict]:
    """A JSON list of {"prompt": ..., "accepts": [action labels that count as right]}."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read the paraphrase set {path}: {error}") from error
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not entry.get("prompt") or not entry.get("accepts"):
            raise ValueError(f"{path}, entry {number}: expected {{\"prompt\": text, \"accepts\": [labels]}}.")
    return entries
