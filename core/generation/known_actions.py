"""Does a prompt ask for something the model has learned? Its nearest training captions say.

A model folder may hold `caption_index/`: unit text embeddings (C, dim) of training captions,
each with a short phrase of its action ("walks forward"), unit embeddings (O, dim) of other
activities that no training source shows ("sits down on a chair", resources/text), and a
threshold chosen by measurement (`keymask train caption-index`). A prompt's score is its cosine
similarity to the nearest caption minus that to the nearest other activity: a sentence
encoder finds "does a cartwheel" fairly close to "walks sideways" (0.55), but closer still to
another acrobatic move the model does not know. A score below the threshold means the prompt
asks for something the model has not learned. Words that describe no motion at all ("hello",
"a red sports car", "une femme danse": the encoder reads English) are near neither list, so the
score cannot tell; a prompt whose nearest caption is less similar than a second measured floor
does not read as a motion. Either way generation goes on, and the caller says so in one sentence
naming the nearest known actions.

The index also reads a prompt as one trained action (`read_actions`): the action whose captions'
mean embedding is nearest. Generation pulls the prompt toward that action's captions, and
composition.py uses it to tell whether the parts of "..., then ..." are different actions. An index
may hold a reader: the same captions' mean embeddings by a stronger sentence encoder
(all-mpnet-base-v2), used for this reading only, since the model is conditioned on its own encoder's
embeddings (README: reading development paraphrases right 168 -> 177 of 185), and a few wordings of
trained actions that no caption uses ("walks away", resources/text/reader_wordings.txt): an action
reads as near as the nearer of its captions' mean and its wordings. The sentence encoder hears
"left" and "right" as almost the same word, so a prompt that names one side is never read as an
action of the other side. (Conditioning the model on that caption instead of the prompt was
measured and not kept: the model card says why.)
"""

import json
import re
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from keymask.core.fileio import ensure_output_dir, write_json, write_npy
from keymask.core.text.prompts import TextEncoder, TextEncoderUnavailable

INDEX_FOLDER = "caption_index"
READING_FILE = "reading.npy"  # the reader's action centroids
WORDINGS_FILE = "reader_wordings.npy"  # the reader's embeddings of its wordings
# Nearest-caption similarity at or below which a prompt is pulled fully toward its action, and from
# which up it is not pulled; chosen with `python bench/action_pull.py` (model card).
PULL_FADE = (0.75, 0.92)
# How much nearer an action of the side a prompt names counts (CaptionIndex.read_actions): goodbye
# captions name no hand, so "waves goodbye with the right hand" was read, and pulled, as a goodbye
# the model makes with either hand. Chosen with `python bench/side_margin.py` (model card).
NAMED_SIDE_MARGIN = 0.2
_SIDE = re.compile(r"\b(left|right)(?:wards?)?\b", re.IGNORECASE)


def named_side(text: str) -> str | None:
    """'left' or 'right' when the text names that side only, else None."""
    sides = {match.lower() for match in _SIDE.findall(text)}
    return sides.pop() if len(sides) == 1 else None


@dataclass(frozen=True)
class PromptCheck:
    prompt: str
    score: float  # similarity to the nearest training caption minus that to the nearest other activity
    nearest_actions: tuple[str, ...]  # phrases of the nearest known actions, nearest first
    known: bool
    reads_as_motion: bool = True  # False: the nearest training caption is below the index's similarity floor

    def warning(self) -> str:
        nearest = "; ".join(self.nearest_actions)
        if not self.reads_as_motion:
            return (f"\"{self.prompt}\" is unlike every caption the model was trained on (it reads English only; "
                    f"nearest known actions: {nearest}); generating anyway.")
        return f"The model has not learned what \"{self.prompt}\" asks for (nearest known actions: {nearest}); generating anyway."


@dataclass
class CaptionIndex:
    embeddings: np.ndarray  # (C, dim) float32, unit rows
    actions: list[str]  # (C,) phrase of each caption's action
    others: np.ndarray  # (O, dim) float32, unit rows: activities the model has not learned
    threshold: float  # prompts scoring below this are unknown
    similarity_floor: float = 0.0  # prompts whose nearest caption is less similar than this are unknown
    reader: str | None = None  # the sentence encoder that reads prompts as actions; None: the embeddings' own
    reader_centroids: np.ndarray | None = None  # (A, reader dim) unit, in `action_names` order
    # (action phrase, sentence): wordings of trained actions that no caption uses, read by the reader only
    reader_wordings: tuple[tuple[str, str], ...] = ()
    reader_wording_units: np.ndarray | None = None  # (W, reader dim) unit embeddings of them by the reader

    @classmethod
    def load(cls, model_folder: str | Path) -> "CaptionIndex | None":
        folder = Path(model_folder) / INDEX_FOLDER
        if not (folder / "index.json").exists():
            return None
        info = json.loads((folder / "index.json").read_text())
        embeddings = np.load(folder / "embeddings.npy").astype(np.float32)
        others = np.load(folder / "others.npy").astype(np.float32)
        reader = info.get("reader")  # indexes made before 2026-12-04 have none
        wordings = tuple(tuple(pair) for pair in info.get("reader_wordings", ()))  # none before 2026-12-04
        return cls(embeddings, list(info["actions"]), others, float(info["threshold"]),
                   float(info.get("similarity_floor", 0.0)),  # indexes made before 2026-12-03 have none
                   reader, np.load(folder / READING_FILE).astype(np.float32) if reader else None, wordings,
                   np.load(folder / WORDINGS_FILE).astype(np.float32) if wordings else None)

    def save(self, model_folder: str | Path) -> Path:
        folder = ensure_output_dir(Path(model_folder) / INDEX_FOLDER)
        write_npy(folder / "embeddings.npy", self.embeddings.astype(np.float16))
        write_npy(folder / "others.npy", self.others.astype(np.float16))
        if self.reader is not None:
            write_npy(folder / READING_FILE, self.reader_centroids.astype(np.float16))
            if self.reader_wordings:
                write_npy(folder / WORDINGS_FILE, self.reader_wording_units.astype(np.float16))
        write_json(folder / "index.json", {"threshold": self.threshold, "similarity_floor": self.similarity_floor,
                                           "actions": self.actions, "reader": self.reader,
                                           "reader_wordings": [list(pair) for pair in self.reader_wordings]})
        return folder

    def similarities(self, text_embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P, dim) prompt embeddings -> cosine similarities (P, C) to the captions and (P, O) to the others."""
        prompts = np.asarray(text_embeddings, dtype=np.float32)
        prompts = prompts / np.maximum(np.linalg.norm(prompts, axis=-1, keepdims=True), 1e-8)
        return prompts @ self.embeddings.T, prompts @ self.others.T

    def scores(self, text_embeddings: np.ndarray) -> np.ndarray:
        """(P,) nearest-caption similarity minus nearest-other-activity similarity."""
        known, others = self.similarities(text_embeddings)
        return known.max(-1) - (others.max(-1) if others.size else 0.0)

    @cached_property
    def action_names(self) -> list[str]:
        """Actions a prompt can be read as: single ones and simultaneous pairs ("walks forward and waves
        the right hand"), not sequences ("..., then ..."), which composition.py splits."""
        return readable_actions(self.actions)

    @cached_property
    def _action_centroids(self) -> np.ndarray:
        """(A, dim) unit mean embedding of each action's captions, in `action_names` order."""
        return action_centroids(self.embeddings, self.actions)

    @cached_property
    def _reader_encoder(self) -> TextEncoder | None:
        """The reader's sentence encoder, loaded on first use; None (with one warning) when its weights are
        missing: prompts are then read with the index's own embeddings."""
        if self.reader is None:
            return None
        from keymask.core.text.numpy_sentence_encoders import NumpyMPNetEncoder

        if self.reader != NumpyMPNetEncoder.name:
            raise TextEncoderUnavailable(f"Unknown action reader '{self.reader}' in the caption index.")
        try:
            return NumpyMPNetEncoder()
        except TextEncoderUnavailable as error:
            warnings.warn(f"{error} Until then prompts are read as actions less well, by the model's own encoder.",
                          stacklevel=3)
            return None

    @cached_property
    def _read_embeddings(self) -> dict[str, np.ndarray]:  # prompt -> (reader dim,) unit embedding
        return {}

    def _reading_scores(self, prompts: list[str], text_embeddings: np.ndarray) -> np.ndarray:
        """(P, A) cosine similarity of each prompt to each action's mean caption, by the reader when
        there is one, else by the given (P, dim) embeddings."""
        units = self._reader_units(prompts)
        if units is None:
            units = np.asarray(text_embeddings, dtype=np.float32)
            units = units / np.maximum(np.linalg.norm(units, axis=-1, keepdims=True), 1e-8)
            return units @ self._action_centroids.T
        scores = units @ self.reader_centroids.T  # (P, A)
        columns, wordings = self._reader_wording_embeddings
        if len(columns):
            np.maximum.at(scores.T, columns, (units @ wordings.T).T)  # each action: the nearer of mean and wordings
        return scores

    def wording_similarity(self, prompts: list[str]) -> np.ndarray:
        """(P,) each prompt's similarity to the nearest reader wording, by the reader; 0 without either."""
        units = self._reader_units(prompts)
        if units is None or not len(self._reader_wording_embeddings[0]):
            return np.zeros(len(prompts), dtype=np.float32)
        return (units @ self._reader_wording_embeddings[1].T).max(axis=-1)

    def _reader_units(self, prompts: list[str]) -> np.ndarray | None:
        """(P, reader dim) unit embeddings of the prompts by the reader (each prompt encoded once); None
        without a reader."""
        encoder = self._reader_encoder
        if encoder is None:
            return None
        missing = list(dict.fromkeys(p for p in prompts if p not in self._read_embeddings))
        if missing:
            if len(self._read_embeddings) > 4096:  # a long session's prompts; the next ones are read again
                self._read_embeddings.clear()
            self._read_embeddings.update(zip(missing, np.asarray(encoder.encode(missing), dtype=np.float32)))
        units = np.stack([self._read_embeddings[p] for p in prompts])
        return units / np.maximum(np.linalg.norm(units, axis=-1, keepdims=True), 1e-8)

    @cached_property
    def _reader_wording_embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """((W,) column in `action_names` of each reader wording of a known action, (W, reader dim) its unit
        embedding by the reader)."""
        names = {name: column for column, name in enumerate(self.action_names)}
        known = [row for row, (action, _) in enumerate(self.reader_wordings) if action in names]
        if not known:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.reader_centroids.shape[1]), dtype=np.float32)
        return np.array([names[self.reader_wordings[row][0]] for row in known]), self.reader_wording_units[known]

    def read_actions(self, prompts: list[str], text_embeddings: np.ndarray,
                     side_margin: float = NAMED_SIDE_MARGIN) -> list[str]:
        """The phrase of the trained action each prompt reads as (nearest mean of an action's captions).
        A prompt that names a side is never read as an action of the other side, and is read as an
        action of its side when that is within `side_margin` of the nearest: "waves goodbye with the
        right hand" is "waves the right hand", as the goodbye captions name no hand."""
        scores = self._reading_scores(list(prompts), text_embeddings)  # (P, A)
        action_sides = np.array([named_side(name) or "" for name in self.action_names])
        for row, prompt in enumerate(prompts):
            side = named_side(prompt)
            if side is not None:
                scores[row, (action_sides != "") & (action_sides != side)] -= 2.0  # never the other side
                scores[row, action_sides == side] += side_margin
        return [self.action_names[i] for i in scores.argmax(axis=-1)]

    def pulled_toward_actions(self, prompts: list[str], text_embeddings: np.ndarray, strength: float,
                              fade: tuple[float, float] = PULL_FADE,
                              side_margin: float = NAMED_SIDE_MARGIN) -> np.ndarray:
        """(P, dim) unit embeddings moved toward the mean caption embedding of the trained action each
        prompt reads as (`read_actions`): unit(e + w * centroid). An unseen wording lands between
        the captions the model was trained on; pulling it toward its action's captions conditions
        the model on what it knows while keeping what the words add. w is `strength` for a prompt
        whose nearest training caption is at most fade[0] similar, 0 from fade[1] up (a sentence
        the model was trained on keeps its details: style, speed), linear between."""
        units = np.asarray(text_embeddings, dtype=np.float32)
        units = units / np.maximum(np.linalg.norm(units, axis=-1, keepdims=True), 1e-8)
        if strength <= 0:
            return units
        weight = strength * self.unfamiliarity(units, fade)  # (P,)
        moved = np.flatnonzero(weight > 0)  # only these are read (the reader costs a pass of its encoder)
        if not len(moved):
            return units
        names = {name: row for row, name in enumerate(self.action_names)}
        readings = self.read_actions([prompts[i] for i in moved], units[moved], side_margin)
        pulled = units.copy()
        pulled[moved] += weight[moved, None] * self._action_centroids[[names[a] for a in readings]]  # (M, dim)
        return (pulled / np.linalg.norm(pulled, axis=-1, keepdims=True)).astype(np.float32)

    def unfamiliarity(self, text_embeddings: np.ndarray, fade: tuple[float, float] = PULL_FADE) -> np.ndarray:
        """(P,) 1 for a prompt whose nearest training caption is at most fade[0] similar, 0 from fade[1]
        up, linear between: how far generation leans on what the model knows of the action read."""
        known, _ = self.similarities(text_embeddings)
        low, high = fade
        return np.clip((high - known.max(axis=-1)) / (high - low), 0.0, 1.0).astype(np.float32)

    def check(self, prompts: list[str], text_embeddings: np.ndarray, n_actions: int = 3) -> list[PromptCheck]:
        checks = []
        known, _ = self.similarities(text_embeddings)
        for prompt, row, score in zip(prompts, known, self.scores(text_embeddings)):
            reads_as_motion = bool(row.max() >= self.similarity_floor)
            nearest: list[str] = []
            for index in np.argsort(-row):
                if self.actions[index] not in nearest:
                    nearest.append(self.actions[index])
                if len(nearest) == n_actions:
                    break
            checks.append(PromptCheck(prompt, float(score), tuple(nearest), bool(score >= self.threshold) and reads_as_motion,
                                      reads_as_motion))
        return checks


def readable_actions(actions: list[str]) -> list[str]:
    """The distinct actions of an index's captions that a prompt can be read as (no sequences), sorted."""
    return sorted({action for action in actions if ", then " not in action})


def action_centroids(embeddings: np.ndarray, actions: list[str]) -> np.ndarray:
    """(A, dim) unit mean of the (C, dim) caption embeddings of each of `readable_actions(actions)`."""
    rows = np.asarray(actions)
    centroids = np.stack([np.asarray(embeddings, dtype=np.float32)[rows == name].mean(0)
                          for name in readable_actions(actions)])
    return centroids / np.maximum(np.linalg.norm(centroids, axis=-1, keepdims=True), 1e-8)


def choose_similarity_floor(off_topic_nearest: np.ndarray, min_flagged: float = 0.95) -> float:
    """The lowest nearest-caption similarity floor under which at least `min_flagged` of a calibration
    set's off-topic prompts (words that describe no motion) fall: as few known prompts as possible are
    caught with them."""
    nearest = np.sort(np.asarray(off_topic_nearest))[::-1]
    missed = int(np.floor((1.0 - min_flagged) * len(nearest) + 1e-9))
    return float(nearest[min(missed, len(nearest) - 1)]) + 1e-6


def choose_threshold(known_scores: np.ndarray, max_false_alarms: float = 0.03) -> float:
    """The highest threshold that calls at most `max_false_alarms` of a calibration set's known
    prompts unknown: it flags as many unknown prompts as that false-alarm rate allows."""
    known = np.sort(np.asarray(known_scores))
    allowed = int(np.floor(max_false_alarms * len(known)))
    return float(known[allowed]) - 1e-6
