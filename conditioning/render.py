"""Pictures of key poses: the OpenPose image ControlNet is conditioned on, and a preview for people.

`render_openpose` mirrors ControlNet 1.1's body drawing (controlnet_aux open_pose util
`draw_bodypose`, after OpenPose's own renderer): a black canvas; each of the 17 limbs whose two
joints are present is a filled ellipse along the limb, 4 px in half-width, in 60% of the limb's
colour; then each present joint is a filled disc of radius 4 in the joint's colour. Colours are
RGB. Pixels: x right, y down.

`render_pose_preview` puts the 2D pose beside the 3D key pose seen from the front and from the
figure's left side (metres, Y up, body facing +Z), for people to check a lift.
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from keymask.conditioning.poses import COCO18_LIMBS, KeyPose3D, Pose2D
from keymask.core.preview import project
from keymask.core.preview import save_png as _save_pil_png
from keymask.core.skeleton import HUMANML3D_SKELETON

# OpenPose's 18 colours (RGB): joint j is drawn in colour j, limb i of COCO18_LIMBS in 60% of colour i.
OPENPOSE_COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)
LIMB_SHADE = 0.6
STICK_HALF_WIDTH = 4  # pixels, whatever the canvas size (as in ControlNet)
JOINT_RADIUS = 4

_BACKGROUND = (250, 250, 248)
_TEXT = (20, 20, 20)
# Bone colours of the 3D figure by kinematic chain, as in core/preview.py:
# right leg, left leg, spine, right arm, left arm.
_CHAIN_COLOURS = ((200, 60, 60), (60, 90, 200), (40, 40, 40), (230, 120, 60), (60, 160, 220))


def limb_colour(limb: int) -> tuple[int, int, int]:
    """The RGB colour OpenPose fills limb `limb` (an index into COCO18_LIMBS) with."""
    return tuple(int(c * LIMB_SHADE) for c in OPENPOSE_COLOURS[limb])


def render_openpose(pose: Pose2D, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB OpenPose image of `pose`; `size` = (width, height), default the pose's canvas."""
    width, height = (int(v) for v in (size if size is not None else pose.canvas))
    if min(width, height, *pose.canvas) <= 0:
        raise ValueError(f"An OpenPose image needs a positive size and canvas, not {width} x {height} "
                         f"from a {pose.canvas[0]} x {pose.canvas[1]} canvas.")
    image = np.zeros((height, width, 3), dtype=np.uint8)
    scale = np.array([width / pose.canvas[0], height / pose.canvas[1]])
    import cv2  # here, not at the top: OpenCV wheels carry Qt and touch its environment on import

    limit = 8.0 * max(width, height)  # keeps far off-canvas points within cv2's integer range
    points = np.clip(pose.keypoints * scale, -limit, limit)  # (18, 2) output pixels
    present = pose.present & np.isfinite(pose.keypoints).all(axis=1)
    for limb, (a, b) in enumerate(COCO18_LIMBS):
        if not (present[a] and present[b]):
            continue
        (xa, ya), (xb, yb) = points[a], points[b]
        half_length = int(math.hypot(xa - xb, ya - yb) / 2)
        angle = int(math.degrees(math.atan2(ya - yb, xa - xb)))
        centre = (int((xa + xb) / 2), int((ya + yb) / 2))
        polygon = cv2.ellipse2Poly(centre, (half_length, STICK_HALF_WIDTH), angle, 0, 360, 1)
        cv2.fillConvexPoly(image, polygon, limb_colour(limb))
    for joint in np.flatnonzero(present):
        x, y = points[joint]
        cv2.circle(image, (int(x), int(y)), JOINT_RADIUS, OPENPOSE_COLOURS[joint], thickness=-1)
    return image


def save_png(image: np.ndarray | Image.Image, path: str | Path) -> None:
    """Write an (H, W, 3) uint8 RGB array (or a PIL image) as a PNG file, atomically."""
    if not isinstance(image, Image.Image):
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"save_png needs an (H, W, 3) uint8 image, not {image.dtype} {image.shape}.")
        image = Image.fromarray(image, mode="RGB")
    _save_pil_png(image, path)


def render_pose_preview(pose2d: Pose2D | None, pose3d: KeyPose3D | None, *, title: str | None = None,
                        panel: int = 256) -> np.ndarray:
    """(H, W, 3) uint8: the 2D pose in OpenPose colours beside the 3D pose from the front and the side."""
    if pose2d is None and pose3d is None:
        raise ValueError("render_pose_preview needs a 2D pose, a 3D pose or both.")
    panels = []
    if pose2d is not None:
        panels.append(("2D key pose", _openpose_panel(pose2d, panel)))
    if pose3d is not None:
        front = project(pose3d.joints, azimuth_deg=0.0, elevation_deg=0.0)  # (22, 2): u right, v up
        side = project(pose3d.joints, azimuth_deg=90.0, elevation_deg=0.0)  # seen from the figure's left
        scale = _figure_scale(np.concatenate([front, side]), panel)
        panels.append(("3D front", _skeleton_panel(front, scale, panel)))
        panels.append(("3D side (left)", _skeleton_panel(side, scale, panel)))
    caption, header = 18, 24 if title else 0
    sheet = Image.new("RGB", (panel * len(panels), header + caption + panel), _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((6, 5), title, fill=_TEXT)
    for i, (name, picture) in enumerate(panels):
        draw.text((i * panel + 6, header + 3), name, fill=_TEXT)
        sheet.paste(picture, (i * panel, header + caption))
    return np.asarray(sheet, dtype=np.uint8)


def _openpose_panel(pose: Pose2D, panel: int) -> Image.Image:
    """The OpenPose image of `pose`, its canvas fitted into a black panel x panel square."""
    width, height = pose.canvas
    fit = min(panel / width, panel / height)
    size = (max(1, round(width * fit)), max(1, round(height * fit)))
    square = Image.new("RGB", (panel, panel), (0, 0, 0))
    square.paste(Image.fromarray(render_openpose(pose, size)), ((panel - size[0]) // 2, (panel - size[1]) // 2))
    return square


def _figure_scale(points: np.ndarray, panel: int) -> float:
    """Pixels per metre so that every view of the figure fits 80% of a panel (at least a 1 m box)."""
    finite = points[np.isfinite(points).all(axis=1)]
    span = float((finite.max(axis=0) - finite.min(axis=0)).max()) if len(finite) else 0.0
    return 0.8 * panel / max(span, 1.0)


def _skeleton_panel(points: np.ndarray, scale: float, panel: int) -> Image.Image:
    """The 22-joint skeleton from (22, 2) projected points (metres, v up), centred in a panel."""
    picture = Image.new("RGB", (panel, panel), _BACKGROUND)
    draw = ImageDraw.Draw(picture)
    finite = np.isfinite(points).all(axis=1)
    if not finite.any():
        return picture
    middle = (points[finite].max(axis=0) + points[finite].min(axis=0)) / 2
    pixels = (points - middle) * [scale, -scale] + panel / 2  # (22, 2): x right, y down

    colours = {}
    for chain, colour in zip(HUMANML3D_SKELETON.kinematic_chains, _CHAIN_COLOURS):
        colours.update({joint: colour for joint in chain[1:]})
    width = max(2, round(scale * 0.025))
    for child, parent in enumerate(HUMANML3D_SKELETON.parents):
        if parent >= 0 and finite[child] and finite[parent]:
            draw.line([tuple(pixels[parent]), tuple(pixels[child])], fill=colours[child], width=width)
    r = max(2, width)
    for joint in np.flatnonzero(finite):
        x, y = pixels[joint]
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colours.get(joint, _CHAIN_COLOURS[2]))
    head = HUMANML3D_SKELETON.index("head")
    if finite[head]:
        x, y = pixels[head]
        r = max(4, round(scale * 0.08))
        draw.ellipse([x - r, y - r, x + r, y + r], outline=_CHAIN_COLOURS[2], width=2)
    return picture
