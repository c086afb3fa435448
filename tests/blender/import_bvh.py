"""Import a BVH with Blender's own importer and dump every bone head at every frame as JSON.

Run: blender -b --factory-startup --python tests/blender/import_bvh.py -- in.bvh out.json
Output axes are Blender's (Z up): a head (x, y, z) here is (x, z, -y) in the BVH file's Y-up
axes. Units: the file's (global_scale=1). Blender's Python has no numpy, hence plain JSON.
"""

import builtins
import json
import sys

import bpy

_original_open = builtins.open


def _open_without_universal_newlines(file, mode="r", *args, **kwargs):
    # Blender 3.4's importer opens with mode 'rU', which Python 3.11 rejects.
    return _original_open(file, mode.replace("U", ""), *args, **kwargs)


def main(bvh_path: str, json_path: str) -> None:
    builtins.open = _open_without_universal_newlines
    try:
        bpy.ops.import_anim.bvh(filepath=bvh_path, global_scale=1.0, axis_forward="-Z", axis_up="Y")
    finally:
        builtins.open = _original_open
    armature = next(obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE")
    first, last = (int(round(f)) for f in armature.animation_data.action.frame_range)
    scene = bpy.context.scene
    bone_names = [bone.name for bone in armature.data.bones]
    frames = []
    for frame in range(first, last + 1):
        scene.frame_set(frame)
        evaluated = armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
        world = evaluated.matrix_world
        frames.append({name: list(world @ evaluated.pose.bones[name].head) for name in bone_names})
    with _original_open(json_path, "w") as file:
        json.dump({"axes": "blender (x, y, z) = file (x, -z, y)", "first_frame": first, "bones": bone_names, "frames": frames}, file)


if __name__ == "__main__":
    arguments = sys.argv[sys.argv.index("--") + 1 :]
    main(arguments[0], arguments[1])
