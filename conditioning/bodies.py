"""Where the body a motion is delivered on comes from: a preset, a 3D key pose file, or a rig BVH.

    "model"            the proportions the model generates on (the HumanML3D template)
    "average", ...     a named preset (core/animation.py body_presets)
    pose.json          a KeyMask 3D key pose file: that person's bone lengths
    rig.bvh            a BVH rig of any skeleton the mocap importer maps: its rest pose
    rig.bvh@12         ... or the pose of its frame 12 (counting from 0)
"""

from pathlib import Path

from keymask.core.animation import Body, BodyError, body_of, body_preset, body_presets

BODY_SUFFIXES = (".json", ".bvh")


def load_body(spec: str, *, mapping: str | Path | None = None) -> Body:
    """The body named by `spec` (see the module docstring); BodyError in one sentence otherwise."""
    path_text, _, frame_text = str(spec).partition("@")
    path = Path(path_text)
    if path.suffix.lower() not in BODY_SUFFIXES:
        try:
            return body_preset(str(spec))
        except BodyError:
            raise BodyError(f"No body {spec!r}: give a preset ({', '.join(body_presets())}), a 3D key pose .json "
                            f"or a rig .bvh[@FRAME].") from None
    if not path.is_file():
        raise BodyError(f"The body file {path} does not exist.")
    if path.suffix.lower() == ".json":
        return _body_from_pose_file(path)
    return _body_from_bvh(path, frame_text, mapping)


def _body_from_pose_file(path: Path) -> Body:
    from keymask.conditioning.pose_files import read_pose_file

    pose = read_pose_file(path)
    if not hasattr(pose, "joints"):
        raise BodyError(f"{path} is a 2D pose, which has no bone lengths: give a 3D key pose or a rig BVH as the body.")
    return body_of(pose.joints, path.stem)


def _body_from_bvh(path: Path, frame_text: str, mapping) -> Body:
    from keymask.core.bvh.reader import BvhError, read_bvh
    from keymask.core.mocap.importer import MocapImportError, import_joints, import_rest_joints
    from keymask.core.mocap.joint_names import JointMappingError, UnknownSkeletonError

    try:
        if not frame_text:
            return body_of(import_rest_joints(path, mapping=mapping), path.stem)
        if not frame_text.isdigit():
            raise BodyError(f"Cannot read the frame of {path}@{frame_text}: write rig.bvh@FRAME with a frame number.")
        file_fps = 1.0 / read_bvh(path).frame_time
        joints = import_joints(path, mapping=mapping, fps=file_fps)  # (T, 22, 3): the file's own frames
        frame = int(frame_text)
        if frame >= len(joints):
            raise BodyError(f"{path} has {len(joints)} frames; frame {frame} does not exist.")
        return body_of(joints[frame], f"{path.stem}@{frame}")
    except (BvhError, MocapImportError, UnknownSkeletonError, JointMappingError) as error:
        raise BodyError(f"Cannot take a body from {path}: {error}") from None
