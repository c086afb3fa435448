"""Exemplars: training clips, as the tokenizer encodes them, that a prompt's motion is made from.

Each training clip keeps the embeddings of its captions. A prompt that nearly repeats a caption
(similarity at least FAMILIAR) takes the clips of the nearest captions; any other prompt is first read
as a trained action (CaptionIndex.read_actions) and takes, among that action's clips, those whose
captions are nearest it, so that "an elderly man shuffles ahead" finds the old walks. Of the
LENGTH_FIT_POOL nearest, the `TOP` whose lengths best fit the length asked (or the length estimator's)
remain, and the seed picks one; its tokens are held fixed at a share of positions
(SamplingSettings.exemplar_share) while the transformers decode the rest, as key poses are held. At
share 1 the motion is the clip as the tokenizer plays it back. Chosen on hand-written development
prompts and the validation split (model card).

Tokens are stored one file per source, each under its source's licence (index.json names them).
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from keymask.core.fileio import ensure_output_dir, write_json, write_npy
from keymask.core.generation.known_actions import named_side

FOLDER = "exemplars"
FAMILIAR = 0.92  # a prompt this similar to a training caption is taken as that caption (the pull's fade ends here)
TOP = 3  # the seed picks among this many nearest clips
# The TOP of this many nearest clips whose lengths are nearest the length asked or estimated (less of the
# motion cut off or made by the transformers, no 1 s walks; validation FID -8%, model card).
LENGTH_FIT_POOL = 10


@dataclass
class ExemplarLibrary:
    actions: list[str]  # (A,) action phrases (CaptionIndex.action_names)
    clip_actions: np.ndarray  # (C,) int, index into `actions`
    clip_captions: np.ndarray  # (C, K) int, rows of `captions` of each clip's captions, -1 where it has fewer
    captions: np.ndarray  # (U, text dim) unit embeddings of the clips' distinct captions (the model's encoder)
    clip_tokens: list[np.ndarray]  # C arrays (N_i, Q) int64, the clip's token ids (its first window)
    clip_sources: list[str]  # (C,) the source each clip comes from
    licences: dict[str, str]  # source -> the licence its tokens keep

    @classmethod
    def load(cls, model_folder: str | Path) -> "ExemplarLibrary | None":
        folder = Path(model_folder) / FOLDER
        if not (folder / "index.json").exists():
            return None
        info = json.loads((folder / "index.json").read_text())
        actions, captions, tokens, sources = [], [], [], []
        for source in info["sources"]:
            table = np.load(folder / f"clips_{source}.npy")  # (n, 2 + K): action, rows, caption rows
            ids = np.load(folder / f"tokens_{source}.npy").astype(np.int64)  # (rows, Q)
            starts = np.concatenate([[0], np.cumsum(table[:, 1])])
            tokens += [ids[start:end] for start, end in zip(starts[:-1], starts[1:])]
            actions.append(table[:, 0])
            captions.append(table[:, 2:])
            sources += [source] * len(table)
        quantised = np.load(folder / "captions.npy").astype(np.float32)  # (U, dim) int8
        scales = np.load(folder / "caption_scales.npy").astype(np.float32)  # (U,)
        return cls(list(info["actions"]), np.concatenate(actions).astype(np.int64),
                   np.concatenate(captions).astype(np.int64), quantised * scales[:, None], tokens, sources,
                   dict(info["sources"]))

    def save(self, model_folder: str | Path) -> Path:
        """Caption embeddings as int8 with a scale per row (a quarter of float32's size)."""
        folder = ensure_output_dir(Path(model_folder) / FOLDER)
        for source in self.licences:
            clips = [c for c, s in enumerate(self.clip_sources) if s == source]
            rows = np.array([len(self.clip_tokens[c]) for c in clips])
            table = np.concatenate([self.clip_actions[clips, None], rows[:, None], self.clip_captions[clips]], axis=1)
            write_npy(folder / f"clips_{source}.npy", table.astype(np.int32))
            tokens = np.concatenate([self.clip_tokens[c] for c in clips]).astype(np.int16)
            write_npy(folder / f"tokens_{source}.npy", tokens)
        scales = np.abs(self.captions).max(axis=-1) / 127
        write_npy(folder / "captions.npy", np.round(self.captions / scales[:, None]).astype(np.int8))
        write_npy(folder / "caption_scales.npy", scales.astype(np.float32))
        write_json(folder / "index.json", {"actions": self.actions, "sources": self.licences})
        return folder

    def nearest_clips(self, prompts: list[str], text_embeddings: np.ndarray,
                      read_actions: Callable[[list[str], np.ndarray], list[str]], top: int = TOP) -> list[np.ndarray]:
        """For each prompt, up to `top` clip indices, nearest first: by its nearest caption among all clips when
        it nearly repeats one, else among the clips of the action it reads as; never of the other side
        than the prompt names. read_actions(prompts, embeddings) is called for the unfamiliar ones only."""
        units = np.asarray(text_embeddings, dtype=np.float32)
        units = units / np.maximum(np.linalg.norm(units, axis=-1, keepdims=True), 1e-8)
        to_clips = np.concatenate([self._similarity_to_clips(units[i:i + 256]) for i in range(0, len(units), 256)])
        unfamiliar = [i for i, row in enumerate(to_clips) if row.max() < FAMILIAR]
        if unfamiliar:
            read = read_actions([prompts[i] for i in unfamiliar], units[unfamiliar])
            allowed = np.asarray(self.actions)[self.clip_actions]
            for i, action in zip(unfamiliar, read):
                to_clips[i, allowed != action] = -np.inf
        sides = np.array([named_side(action) or "" for action in self.actions])[self.clip_actions]
        nearest = []
        for prompt, row in zip(prompts, to_clips):
            side = named_side(prompt)
            if side is not None:
                row[(sides != "") & (sides != side)] = -np.inf
            order = np.argsort(-row)[:top]
            nearest.append(order[np.isfinite(row[order])])
        return nearest

    def _similarity_to_clips(self, units: np.ndarray) -> np.ndarray:
        """(P, dim) unit embeddings -> (P, C) similarity to each clip's nearest caption."""
        to_captions = np.concatenate([units @ self.captions.T, np.full((len(units), 1), -np.inf)], axis=1)  # (P, U+1)
        return to_captions[:, self.clip_captions].max(axis=-1)  # column -1, where a clip has fewer captions, is -inf

    def choose(self, prompts: list[str], text_embeddings: np.ndarray,
               read_actions: Callable[[list[str], np.ndarray], list[str]], samples: int,
               rng: np.random.Generator, token_lengths=None) -> list[int | None]:
        """(prompts x samples) the index of one of each prompt's nearest clips (the TOP nearest, or as
        many as the samples asked; with token_lengths (prompts x samples,) asked, those of the
        LENGTH_FIT_POOL nearest whose lengths are nearest), picked by `rng` for each sample; None for a
        prompt with no clip of its action."""
        chosen = []
        top = max(TOP, samples)
        pool = max(LENGTH_FIT_POOL, top) if token_lengths is not None else top
        for p, clips in enumerate(self.nearest_clips(prompts, text_embeddings, read_actions, top=pool)):
            if pool > top and len(clips):
                misfit = np.abs(np.array([len(self.clip_tokens[c]) for c in clips]) - token_lengths[p * samples])
                clips = clips[np.argsort(misfit, kind="stable")[:top]]
            for _ in range(samples):
                chosen.append(int(rng.choice(clips)) if len(clips) else None)
        return chosen

    def credit(self, sources) -> list[str]:
        """The licence and credit line of each of these sources, as their clips' tokens keep them."""
        return [self.licences[source] for source in sorted(set(sources))]

    def source_names(self, sources) -> list[str]:
        """The name each of these sources' credit line starts with ("HDM05"), for a line with no room for more."""
        return [re.split(r" \(|,", line, maxsplit=1)[0] for line in self.credit(sources)]

    def credit_sentence(self, sources) -> str:
        """What the CLI and the studio say of motions made from clips of these sources ("" for none)."""
        return "made from motion capture clips of " + "; ".join(line.rstrip(".") for line in self.credit(sources)) \
            if sources else ""


def held_positions(clips: list[np.ndarray | None], token_lengths: np.ndarray, share: float, n_quantizers: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(ids, mask), each (B, N, Q) with N = the longest length: each clip's tokens from its start, held at a
    random `share` of the positions it reaches (a clip longer than its motion is cut)."""
    ids = np.zeros((len(clips), int(token_lengths.max()), n_quantizers), dtype=np.int64)
    mask = np.zeros(ids.shape, dtype=bool)
    for b, (tokens, length) in enumerate(zip(clips, token_lengths)):
        if tokens is None:
            continue
        n = min(len(tokens), int(length))
        ids[b, :n] = tokens[:n]
        mask[b, :n] = (rng.random(n) < share)[:, None]
    return ids, mask
