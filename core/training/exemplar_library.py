"""Build a model's exemplar library (core/generation/exemplars.py) from its training split."""

from pathlib import Path

import numpy as np

from keymask.core.generation.exemplars import ExemplarLibrary
from keymask.core.generation.pipeline import MotionPipeline
from keymask.core.text.prompts import clean_prompts
from keymask.core.training.caption_index import action_phrase
from keymask.core.training.data import manifest, read_split


def build_exemplar_library(dataset_dir: Path, pipeline: MotionPipeline, batch_size: int = 512,
                           progress=None) -> ExemplarLibrary:
    """Every training clip of an action the caption index can read a prompt as, encoded by the pipeline's
    tokenizer (its first window), with the model's embeddings of its captions. progress(done, total)
    while embedding."""
    if pipeline.caption_index is None:
        raise ValueError("The model has no caption index to read prompts as actions: run `keymask train "
                         "caption-index` first.")
    dataset_dir = Path(dataset_dir)
    records = manifest(dataset_dir)
    actions = pipeline.caption_index.action_names
    clip_ids = [clip_id for clip_id in read_split(dataset_dir, "train") if records[clip_id]["content"]
                and ">" not in records[clip_id]["content"] and action_phrase(records[clip_id]["content"]) in actions]
    if not clip_ids:
        raise ValueError(f"{dataset_dir} has no training clip of an action the model's caption index knows.")

    captions = {clip_id: clean_prompts(records[clip_id]["captions"]) for clip_id in clip_ids}
    unique = list(dict.fromkeys(c for clip_id in clip_ids for c in captions[clip_id]))
    embedded = []
    for start in range(0, len(unique), batch_size):
        vectors = np.asarray(pipeline.encode_text(unique[start:start + batch_size]), dtype=np.float32)
        embedded.append(vectors / np.linalg.norm(vectors, axis=-1, keepdims=True))
        if progress:
            progress(min(start + batch_size, len(unique)), len(unique))
    row = {caption: i for i, caption in enumerate(unique)}
    width = max(len(captions[clip_id]) for clip_id in clip_ids)
    clip_captions = np.full((len(clip_ids), width), -1, dtype=np.int64)
    for i, clip_id in enumerate(clip_ids):
        clip_captions[i, :len(captions[clip_id])] = [row[c] for c in captions[clip_id]]

    window = pipeline.spec.max_frames
    tokens = [np.asarray(pipeline.encode_features(np.load(dataset_dir / "features" / f"{clip_id}.npy")[:window])[0],
                         dtype=np.int64) for clip_id in clip_ids]
    licences = {}
    for clip_id in clip_ids:
        licences.setdefault(records[clip_id]["source"], records[clip_id]["license"])
    clip_actions = np.array([actions.index(action_phrase(records[c]["content"])) for c in clip_ids])
    return ExemplarLibrary(list(actions), clip_actions, clip_captions, np.concatenate(embedded), tokens,
                           [records[clip_id]["source"] for clip_id in clip_ids], licences)
