"""Edit a motion with key poses: regenerate it outside kept spans (core's edit_motion), then pass it
through the key poses that lie outside them.

1. The motion is regenerated outside the `keep` spans from the text, exactly as long as the source
   (core/generation/editing.py: kept tokens fixed, kept frames copied back, seams offset).
2. Keys on kept frames are the source's to keep (the kept motion already has its pose there); the
   other keys are passed through exactly (refine.py, through keyed_generation.refine_motion).
3. Refinement moves every frame a little (rigid bones), so the kept frames are copied back from the
   source afterwards, with the seams blended again (editing.blend_seams).
The studio's "Regenerate outside kept spans" calls this; so can the command line's `keymask edit`.
"""

from dataclasses import replace
from typing import Sequence

import numpy as np

from keymask.conditioning.keyed_generation import KeyFrame, check_keys, refine_motion
from keymask.core.generation.editing import EditResult, blend_seams, edit_motion
from keymask.core.generation.pipeline import Cancel, MotionPipeline, Progress, SamplingSettings


def edit_with_key_poses(pipeline: MotionPipeline, source: np.ndarray, prompt: str, keep: list[tuple[int, int]],
                        keys: Sequence[KeyFrame] = (), *, seed: int | None = None,
                        settings: SamplingSettings | None = None, progress: Progress | None = None,
                        cancel: Cancel | None = None) -> EditResult:
    """`source` (T, 22, 3) regenerated outside `keep` from `prompt`, exactly as long, through the `keys`
    that lie outside the kept spans; without keys, edit_motion's result as it is."""
    spec = pipeline.spec
    check_keys(keys, len(source), spec.fps, spec.frames_per_token)
    edit = edit_motion(pipeline, source, prompt, list(keep), seed=seed, settings=settings, progress=progress,
                       cancel=cancel)
    free = [key for key in keys if not edit.kept[key.frame]]
    if not free:
        return edit
    return replace(edit, joints=blend_seams(refine_motion(edit.joints, free), np.asarray(source), edit.kept))
