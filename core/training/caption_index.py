"""Build a model's caption index (core/generation/known_actions.py) from its training captions.

Up to `per_action` distinct captions of each content label of the training split (joined
two-action motions included, named "first, then second"), embedded by the model's text encoder;
activities no source shows (resources/text/other_activities.txt) are embedded beside them; the
threshold is chosen on a calibration set of known and unknown prompts written by hand, and the
similarity floor on its off-topic prompts (words that describe no motion). With a reader (a
stronger sentence encoder, all-mpnet-base-v2), the same captions' mean embedding per action by it
reads prompts as actions (known_actions.CaptionIndex.read_actions).
"""

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keymask.core.data.captions import CONTENT_PHRASES
from keymask.core.generation.known_actions import (
    CaptionIndex,
    action_centroids,
    choose_similarity_floor,
    choose_threshold,
)
from keymask.core.training.data import manifest, read_split


@dataclass
class Calibration:
    threshold: float
    similarity_floor: float
    known_flagged: float  # share of the calibration set's known prompts called unknown
    unknown_flagged: float  # share of its unknown prompts called unknown
    off_topic_flagged: float | None  # share of its off-topic prompts called unknown (None: it has none)


def action_phrase(content: str) -> str:
    """'walk' -> 'walks forward'; 'walk>bow' -> 'walks forward, then bows'; unknown labels as they are."""
    if ">" in content:
        return ", then ".join(action_phrase(part) for part in content.split(">"))
    if "&" in content:
        return " and ".join(action_phrase(part) for part in content.split("&"))
    phrases = CONTENT_PHRASES.get(content)
    return phrases[0] if phrases else content


def training_captions(dataset_dir: Path, per_action: int = 48, seed: int = 0) -> tuple[list[str], list[str]]:
    """(captions, action phrases): up to `per_action` distinct captions per content label."""
    records = manifest(dataset_dir)
    by_content: dict[str, set[str]] = {}
    for clip_id in read_split(dataset_dir, "train"):
        record = records[clip_id]
        key = record["content"] or "described"
        by_content.setdefault(key, set()).update(record["captions"])
    rng = random.Random(seed)
    captions, actions = [], []
    composite_budget = per_action * 4
    for content in sorted(by_content):
        pool = sorted(by_content[content])
        is_composite = ">" in content or "&" in content
        take = min(len(pool), 2 if is_composite else per_action)
        for caption in rng.sample(pool, take):
            if is_composite and composite_budget <= 0:
                break
            composite_budget -= is_composite
            captions.append(caption)
            actions.append(action_phrase(content) if content != "described" else caption)
    return captions, actions


def other_activities(path: Path) -> list[str]:
    """The activities no training source shows (one a line, '#' comments), as sentences."""
    lines = [line.strip() for line in Path(path).read_text().splitlines()]
    return [f"A person {line}." for line in lines if line and not line.startswith("#")]


def reader_wordings(path: Path) -> tuple[tuple[str, str], ...]:
    """(action phrase, sentence) for each line "phrase<TAB>wording" of `path` ('#' comments)."""
    pairs = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        action, tab, wording = line.partition("\t")
        if not tab or not action.strip() or not wording.strip():
            raise ValueError(f"{path}, line {number}: expected an action phrase, a tab and a wording; got {line!r}.")
        pairs.append((action.strip(), f"a person {wording.strip()}"))
    return tuple(pairs)


def _unit_embeddings(text_encoder, texts: list[str]) -> np.ndarray:
    embeddings = np.asarray(text_encoder.encode(texts), dtype=np.float32)
    return embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)


def build_caption_index(dataset_dir: Path, text_encoder, calibration_file: Path, others_file: Path,
                        per_action: int = 48, reader=None,
                        wordings_file: Path | None = None) -> tuple[CaptionIndex, Calibration]:
    """The index of `text_encoder` (the model's) over the training captions; `reader`: a sentence encoder
    that reads prompts as actions instead of it (None: the model's own), with the wordings of
    `wordings_file` (reader_wordings) besides the captions."""
    captions, actions = training_captions(Path(dataset_dir), per_action)
    index = CaptionIndex(_unit_embeddings(text_encoder, captions), actions,
                         _unit_embeddings(text_encoder, other_activities(others_file)), threshold=0.0)
    if reader is not None:
        index.reader = reader.name
        index.reader_centroids = action_centroids(_unit_embeddings(reader, captions), actions)
        if wordings_file is not None:
            index.reader_wordings = reader_wordings(wordings_file)
            index.reader_wording_units = _unit_embeddings(reader, [sentence for _, sentence in index.reader_wordings])
    calibration = json.loads(Path(calibration_file).read_text())
    off_topic = calibration.get("off_topic", [])
    embedded = {kind: text_encoder.encode(calibration[kind]) for kind in ("known", "unknown", "off_topic")
                if calibration.get(kind)}
    index.threshold = choose_threshold(index.scores(embedded["known"]))
    if off_topic:
        index.similarity_floor = choose_similarity_floor(index.similarities(embedded["off_topic"])[0].max(-1))

    def flagged(kind: str) -> float:
        return float(np.mean([not check.known for check in index.check(calibration[kind], embedded[kind])]))

    return index, Calibration(index.threshold, index.similarity_floor, flagged("known"), flagged("unknown"),
                              flagged("off_topic") if off_topic else None)
