"""Render mannequins (capsule limbs, a head with a face) in given poses, for mediapipe to read.

Run: blender -b --factory-startup --python bench/blender/render_mannequins.py -- poses.json out_dir
poses.json: {"poses": [[[x, y, z] x 22] ...], "cameras": [[azimuth_deg, elevation_deg, distance_m] ...]}
Joints are metres, Y up, the body facing +Z (our axes); Blender is Z up, so (x, y, z) -> (x, -z, y).
Cycles on the CPU, 320 x 480 px, a grey floorless studio: one PNG per pose, `pose_000.png`, ...
"""

import json
import math
import sys

import bpy
from mathutils import Vector

PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
RADII = {1: 0.075, 2: 0.075, 3: 0.11, 4: 0.065, 5: 0.065, 6: 0.12, 7: 0.05, 8: 0.05, 9: 0.12, 10: 0.04, 11: 0.04,
         12: 0.05, 13: 0.06, 14: 0.06, 15: 0.05, 16: 0.05, 17: 0.05, 18: 0.045, 19: 0.045, 20: 0.04, 21: 0.04}


def blender(p):
    return Vector((p[0], -p[2], p[1]))


def material(name, rgb):
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    m.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (*rgb, 1.0)
    return m


def capsule(a, b, radius, mat):
    a, b = blender(a), blender(b)
    d = b - a
    bpy.ops.mesh.primitive_cylinder_add(radius=radius, depth=max(d.length, 1e-3), location=(a + b) / 2, vertices=16)
    obj = bpy.context.object
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = Vector((0, 0, 1)).rotation_difference(d.normalized()) if d.length > 1e-6 else (1, 0, 0, 0)
    obj.data.materials.append(mat)
    for end in (a, b):
        bpy.ops.mesh.primitive_uv_sphere_add(radius=radius, location=end, segments=16, ring_count=8)
        bpy.context.object.data.materials.append(mat)


def sphere(centre, radius, mat):
    bpy.ops.mesh.primitive_uv_sphere_add(radius=radius, location=centre, segments=24, ring_count=12)
    bpy.context.object.data.materials.append(mat)


def main(poses_path, out_dir):
    doc = json.load(open(poses_path))
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 16
    scene.cycles.device = "CPU"
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = 360, 540
    scene.world.color = (0.55, 0.55, 0.55)
    skin, shirt, trousers, eye = (material("skin", (0.8, 0.6, 0.5)), material("shirt", (0.2, 0.35, 0.7)),
                                  material("trousers", (0.25, 0.25, 0.3)), material("eye", (0.05, 0.05, 0.05)))
    for index, (pose, (azimuth, elevation, distance)) in enumerate(zip(doc["poses"], doc["cameras"])):
        bpy.ops.object.select_all(action="SELECT")
        bpy.ops.object.delete()
        for child, parent in enumerate(PARENTS):
            if parent < 0 or child == 15:
                continue
            mat = trousers if child in (1, 2, 4, 5, 7, 8, 10, 11) else (skin if child in (12, 18, 19, 20, 21) else shirt)
            capsule(pose[parent], pose[child], RADII[child], mat)
        neck, head = Vector(pose[12]), Vector(pose[15])
        up = (head - neck).normalized()
        across = Vector(pose[16]) - Vector(pose[17])  # right shoulder to left
        forward = across.cross(up).normalized()
        left = up.cross(forward)
        centre = head + 0.06 * up + 0.02 * forward
        sphere(blender(centre), 0.1, skin)
        for side in (-1, 1):
            sphere(blender(centre + 0.085 * forward + 0.03 * up + side * 0.035 * left), 0.015, eye)
            sphere(blender(centre - 0.01 * forward + side * 0.095 * left), 0.025, skin)  # ears
        sphere(blender(centre + 0.1 * forward - 0.005 * up), 0.02, skin)  # nose
        pelvis = Vector(pose[0])
        a, e = math.radians(azimuth), math.radians(elevation)
        eye_at = pelvis + distance * Vector((math.sin(a) * math.cos(e), math.sin(e), math.cos(a) * math.cos(e)))
        bpy.ops.object.camera_add(location=blender(eye_at))
        camera = bpy.context.object
        camera.rotation_mode = "QUATERNION"
        camera.rotation_quaternion = (blender(pelvis) - blender(eye_at)).to_track_quat("-Z", "Y")
        camera.data.lens = 35
        scene.camera = camera
        bpy.ops.object.light_add(type="SUN", location=blender(eye_at))
        bpy.context.object.rotation_mode = "QUATERNION"
        bpy.context.object.rotation_quaternion = camera.rotation_quaternion
        bpy.context.object.data.energy = 3.0
        scene.render.filepath = f"{out_dir}/pose_{index:03d}.png"
        bpy.ops.render.render(write_still=True)


if __name__ == "__main__":
    arguments = sys.argv[sys.argv.index("--") + 1:]
    main(arguments[0], arguments[1])
