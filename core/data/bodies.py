"""The named body presets (resources/skeletons/body_presets.json), measured on the mocap data.

    python -m keymask.core.data.bodies [DATASET_DIR]

Each real-actor preset is the median, over a source's clips, of each clip's body (core/animation.py
body_of: median bone lengths over the clip's frames); "average" is the mean of those; "model" is the HumanML3D target skeleton
every training motion is uniformised to, the proportions the model generates on.
"""

import json
import sys
from pathlib import Path

import numpy as np

from keymask.core.animation import Body, body_of
from keymask.core.data.sources import BANDAI_LICENSE, CMU_LICENSE, HDM05_LICENSE
from keymask.core.kinematics import forward_kinematics
from keymask.core.paths import default_dataset_dir
from keymask.core.rotations import quat_identity
from keymask.core.skeleton import HUMANML3D_SKELETON, target_offsets
from keymask.resources import RESOURCES_DIR

SOURCES = {
    "bandai": ("median actor of the Bandai Namco Research Motion Dataset", BANDAI_LICENSE),
    "hdm05": ("median actor of the HDM05 clips", HDM05_LICENSE),
    "cmu": ("median actor of the CMU mocap subset", CMU_LICENSE),
}


def model_body() -> Body:
    """The HumanML3D target skeleton in the rest convention of core/animation.py."""
    n = HUMANML3D_SKELETON.n_joints
    pose = forward_kinematics(quat_identity((n,)), np.zeros(3), target_offsets())  # (J, 3)
    return body_of(pose, "model")


def measure_presets(dataset_dir: Path) -> dict:
    records = [json.loads(line) for line in (dataset_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]
    bodies = {"model": {"description": "the HumanML3D template the model generates on", "source": "HumanML3D",
                        **model_body().to_dict()}}
    actors = []
    for source, (description, license_text) in SOURCES.items():
        offsets = [body_of(np.load(dataset_dir / "joints" / f"{r['clip_id']}.npy")).offsets for r in records
                   if r["source"] == source and not r["mirrored"] and r["clip_id"] == r["source_clip"]]
        if not offsets:
            continue
        body = Body(np.median(np.stack(offsets), axis=0), source)
        actors.append(body.offsets)
        bodies[f"{source}-actor"] = {"description": f"{description} ({len(offsets)} clips)", "source": license_text,
                                     **body.to_dict()}
    average = Body(np.mean(np.stack(actors), axis=0), "average")
    bodies["average"] = {"description": f"mean of the {len(actors)} sources' median actors", "source": "all of the above",
                         **average.to_dict()}
    return {"note": "Proportions measured by keymask.core.data.bodies; each preset credits the data it comes from.",
            "bodies": bodies}


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default_dataset_dir()
    document = measure_presets(folder)
    (RESOURCES_DIR / "skeletons" / "body_presets.json").write_text(json.dumps(document, indent=1) + "\n")
    for name, preset in document["bodies"].items():
        body = Body.from_dict(preset)
        print(f"{name}: height {body.height():.3f} m, leg {body.leg_length():.3f} m  ({preset['description']})")
