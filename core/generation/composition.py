"""Prompts to motions as `keymask generate` makes them: one action, several in turn, or long.

A prompt that asks for actions one after another ("walks forward, then bows") is split into
them (core/text/sequence.py) and each part conditions its own stretch of one continuous motion
(long_motion.generate_chain), starting from a training clip of that part's own (exemplars.py) as a
single prompt does. The split is kept only where the caption index says each part is an action of
its own:
- the whole prompt is not almost a training caption (those include single actions told in
  phases, "walks forward then turns to the right");
- every part, as written, is near some training caption (not "stays still" or "lowers it"), or,
  as a sentence with the prompt's subject, near a wording the action reader knows ("the woman walks
  off", known_actions.py);
- consecutive parts, made sentences with the prompt's subject ("the woman bows, then walks off"
  -> "the woman walks off", text/sequence.with_subject), are read as different actions
  ("crouches, then lies flat" is one lie-down).
The thresholds were chosen on resources/eval/sequence_calibration.json, written for this
(`python bench/sequences.py` prints how they read it), then the part threshold lowered as far as
that set allowed on the development prompts of bench/sequence_order.py (README). The parts kept
are made as those sentences.

A part lasts what the length estimator gives it, with the parts' ratio softened (`part_frames`):
estimates come from whole training clips, where a repeated action (jumping jacks, shadowboxing)
runs for ten seconds and a squat for one; taken as they are, one action of a sequence swamped
the other.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from keymask.core.generation.cleanup import CleanupSettings
from keymask.core.generation.known_actions import named_side
from keymask.core.generation.long_motion import generate_chain
from keymask.core.generation.pipeline import (
    Cancel,
    GeneratedMotion,
    GenerationInputError,
    MotionPipeline,
    Progress,
    SamplingSettings,
)
from keymask.core.generation.sides import mirrored_features, needs_mirror
from keymask.core.kinematics import mirror_joints
from keymask.core.text.prompts import clean_prompts
from keymask.core.text.sequence import split_actions, with_subject

MAX_SECONDS = 600  # one motion; longer ones are refused in one sentence before any work
MAX_MOTIONS = 4096  # motions in one call (prompts x samples); each keeps its tokens, features and joints
WHOLE_PROMPT_KNOWN = 0.9  # nearest-caption similarity above which a prompt is one trained sentence
PART_KNOWN = 0.5  # nearest-caption similarity below which a part is not an action of its own
WORDING_KNOWN = 0.8  # ... unless, as a sentence, it is this near a wording of the action reader's ("walks off")


def plan_actions(pipeline: MotionPipeline, prompt: str) -> list[str]:
    """The prompts of the motion's parts in time order: [prompt] when it asks for one action."""
    return plan_with_reason(pipeline, prompt)[0]


def plan_with_reason(pipeline: MotionPipeline, prompt: str) -> tuple[list[str], str | None]:
    """(the motion's parts as plan_actions gives them, why a prompt worded as actions in turn ("..., then
    ...") is made as one action; None when it is split or asks for one action)."""
    index = pipeline.caption_index
    parts = split_actions(prompt)
    if len(parts) == 1:
        return [prompt], None
    if index is None:
        return [prompt], "the model has no caption index to tell its parts' actions apart"
    embeddings = pipeline.encode_text(clean_prompts([prompt, *parts]))
    nearest, _ = index.similarities(embeddings)
    best = nearest.max(axis=-1)  # (1 + parts,)
    if best[0] >= WHOLE_PROMPT_KNOWN:
        return [prompt], "it is close to a sentence the model was trained on as one action"
    sentences = with_subject(parts)
    cleaned = clean_prompts(sentences)
    weak = [part for part, near, sentence_is_wording in
            zip(parts, best[1:], index.wording_similarity(cleaned) >= WORDING_KNOWN)
            if near < PART_KNOWN and not sentence_is_wording]
    if weak:
        return [prompt], f"\"{weak[0]}\" is near no action the model knows"
    actions = index.read_actions(cleaned, pipeline.encode_text(cleaned))
    same = next((a for a, b in zip(actions, actions[1:]) if a == b), None)
    if same is not None:
        return [prompt], f"its parts read as one action ({same})"
    return sentences, None


@dataclass
class Request:
    prompt: str
    frames: int | None = None  # None: the model's own length (per part for prompts of several actions)


@dataclass
class Generated:
    motions: list[GeneratedMotion]  # samples of each request in turn; `prompt` is the request's prompt
    seed: int
    plans: dict[str, list[str]] = field(default_factory=dict)  # prompt -> its parts, for prompts of several
    # prompt -> why it is made as one action, for prompts worded as actions in turn ("..., then ...")
    kept_whole: dict[str, str] = field(default_factory=dict)


def generate_requests(pipeline: MotionPipeline, requests: Sequence[Request], *, samples: int = 1,
                      seed: int | None = None, settings: SamplingSettings | None = None,
                      cleanup: CleanupSettings | None = None, progress: Progress | None = None,
                      cancel: Cancel | None = None,
                      embeddings: Mapping[str, np.ndarray] | None = None) -> Generated:
    """Motions for prompts as the CLI and the studio make them.

    Prompts of one action within the model's window go through one batched pass; longer ones and
    prompts of several actions are made window by window, with seeds `seed + 1000 * sample`.
    embeddings: (dim,) per cleaned prompt, when the caller has encoded them already.
    """
    requests = check_requests(pipeline, requests, samples)
    prompts = [r.prompt for r in requests]
    planned = {p: plan_with_reason(pipeline, p) for p in dict.fromkeys(prompts)}
    plans = {p: parts for p, (parts, _) in planned.items()}
    batched = [i for i, r in enumerate(requests) if len(plans[r.prompt]) == 1
               and (r.frames is None or r.frames <= pipeline.spec.max_frames)]

    motions: dict[int, list[GeneratedMotion]] = {}
    lengths_of_parts: dict[int, list[int]] = {}  # request -> frames of each part, for requests made in windows
    if batched:
        frames = None if requests[batched[0]].frames is None else [requests[i].frames for i in batched]
        known = None if embeddings is None else np.stack([embeddings[requests[i].prompt] for i in batched])
        result = pipeline([requests[i].prompt for i in batched], frames=frames, samples=samples, seed=seed,
                          settings=settings, cleanup=cleanup, progress=progress, cancel=cancel, text_embedding=known)
        seed = result.seed
        for k, i in enumerate(batched):
            motions[i] = result.motions[k * samples:(k + 1) * samples]
    seed = 0 if seed is None else seed
    for i, request in enumerate(requests):
        if i in motions:
            continue
        parts = plans[request.prompt]
        lengths = part_frames(pipeline, parts, request.frames, seed, (settings or SamplingSettings()).action_pull)
        lengths_of_parts[i] = lengths
        motions[i] = []
        for sample in range(samples):
            # each part starts from a training clip of its own (fitting clips to the parts' estimated lengths
            # put fewer development sequences in order: model card)
            clips = (pipeline.choose_exemplars(parts, None, 1, settings or SamplingSettings(), seed + 1000 * sample)
                     if len(parts) > 1 else None)
            motion = generate_chain(pipeline, list(zip(parts, lengths)), seed=seed + 1000 * sample,
                                    settings=settings, cleanup=cleanup, exemplar_clips=clips, progress=progress,
                                    cancel=cancel)
            motion.prompt, motion.sample = request.prompt, sample
            motions[i].append(motion)
    if (settings or SamplingSettings()).mirror_to_named_side:
        for i, request in enumerate(requests):
            parts = list(zip(plans[request.prompt], lengths_of_parts.get(i, [None])))
            motions[i] = [on_named_side(pipeline, motion, parts) for motion in motions[i]]
    return Generated([m for i in range(len(requests)) for m in motions[i]], seed,
                     {p: parts for p, parts in plans.items() if len(parts) > 1},
                     {p: reason for p, (_, reason) in planned.items() if reason is not None})


def plan_notes(generated: Generated) -> list[str]:
    """One sentence for each prompt made as actions in turn, and for each worded so but made as one."""
    notes = [f"\"{prompt}\" is made as {len(parts)} actions in turn: {' | '.join(parts)}."
             for prompt, parts in generated.plans.items()]
    return notes + [f"\"{prompt}\" is made as one action, not as actions in turn: {reason}."
                    for prompt, reason in generated.kept_whole.items()]


def on_named_side(pipeline: MotionPipeline, motion: GeneratedMotion,
                  parts: Sequence[tuple[str, int | None]] = ()) -> GeneratedMotion:
    """The motion, or its mirror image when its prompt names a side for a hand or a leg and it moves
    the other side's (core/generation/sides.py); the mirror's tokens are its features encoded again.

    parts: (prompt, frames) of a motion made of actions in turn (None frames: to the end). It is
    mirrored when the whole prompt names one side only and a part that names it for a hand or a
    leg moves the other side's within its own frames ("walks forward, then waves the right hand").
    """
    parts = list(parts) or [(motion.prompt, None)]
    if len(parts) > 1 and named_side(motion.prompt) is None:
        return motion
    start, wrong_side = 0, False
    for part, frames in parts:
        end = len(motion.joints) if frames is None else start + frames
        wrong_side |= needs_mirror(part, motion.joints[start:end])
        start = end
    if not wrong_side:
        return motion
    features = mirrored_features(motion.features)
    return replace(motion, features=features, joints=mirror_joints(motion.joints).astype(np.float32),
                   tokens=pipeline.encode_features(features)[0], mirrored=True)


def check_requests(pipeline: MotionPipeline, requests: Sequence[Request], samples: int) -> list[Request]:
    """The requests with cleaned prompts, or one sentence, before any work, for what one call cannot
    make: no prompt, lengths given for some prompts within the model's window and not for others,
    motions longer than MAX_SECONDS, more than MAX_MOTIONS."""
    if samples < 1:
        raise GenerationInputError(f"samples must be at least 1, got {samples}.")
    if not requests:
        raise GenerationInputError("No prompt given.")
    requests = [Request(p, r.frames) for p, r in zip(clean_prompts([r.prompt for r in requests]), requests)]
    within_window = [r.frames for r in requests if r.frames is None or r.frames <= pipeline.spec.max_frames]
    if len({frames is None for frames in within_window}) > 1:
        raise GenerationInputError("Give a length for every prompt, or for none.")
    fps = pipeline.spec.fps
    for request in requests:
        if request.frames is not None and request.frames > MAX_SECONDS * fps:
            raise GenerationInputError(f"A motion can last at most {MAX_SECONDS // 60} minutes ({MAX_SECONDS * fps} "
                                       f"frames); got {request.frames / fps:.0f} s: make it in parts with keymask edit "
                                       "--extend.")
    if len(requests) * samples > MAX_MOTIONS:
        raise GenerationInputError(f"{len(requests)} prompts x {samples} samples is {len(requests) * samples} motions; "
                                   f"at most {MAX_MOTIONS} fit in one run: split the prompt file.")
    return requests


def part_frames(pipeline: MotionPipeline, parts: list[str], frames: int | None, seed: int,
                action_pull: float) -> list[int]:
    """Frames of each part of a motion made of `parts` in turn: the length estimator's, their ratio
    softened to its square root about their geometric mean (a 9.8 s and a 1.4 s estimate become 8.2 s
    and 3.1 s: on bench/sequence_order.py's two development sets both actions in order 0.80 against
    0.70 as estimated, and 0.76 with each part capped at half the model's window instead; README),
    all scaled to `frames` when it is given."""
    step = pipeline.spec.frames_per_token
    if len(parts) == 1:
        return [int(frames)]
    estimated = np.asarray(pipeline.estimate_frames(parts, seed=seed, action_pull=action_pull), dtype=np.float64)
    mean = np.exp(np.log(estimated).mean())
    softened = mean * np.sqrt(estimated / mean)
    if frames is not None:
        if frames < step * len(parts):
            raise GenerationInputError(f"{frames} frames cannot hold {len(parts)} actions of at least {step} frames.")
    total = estimated.sum() if frames is None else frames
    softened = softened * total / softened.sum()
    tokens = np.maximum(np.round(softened / step), 1).astype(int)
    if frames is not None:
        tokens[-1] = max(1, int(round(frames / step)) - int(tokens[:-1].sum()))
    return [int(t) * step for t in tokens]
