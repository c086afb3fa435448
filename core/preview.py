"""Stick-figure pictures of 22-joint motions: a PNG contact sheet and an animated GIF.

Positions are (T, J, 3) metres, Y up. The camera is orthographic, looking at the figure from
the front-left and slightly above; each panel follows the root so the pose stays centred.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from keymask.core.facing import body_heading
from keymask.core.fileio import write_bytes
from keymask.core.rotations import rotate_about_y
from keymask.core.skeleton import HUMANML3D_SKELETON, Skeleton

_CHAIN_COLOURS = ((200, 60, 60), (60, 90, 200), (40, 40, 40), (230, 120, 60), (60, 160, 220))  # right leg, left leg, spine, right arm, left arm
_BACKGROUND = (250, 250, 248)


def project(positions: np.ndarray, azimuth_deg: float = 25.0, elevation_deg: float = 12.0) -> np.ndarray:
    """(..., 3) world points -> (..., 2) image-plane points (u right, v up), metres."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    x, y, z = positions[..., 0], positions[..., 1], positions[..., 2]
    # Looking along -Z (at the figure's front) after turning the world by the azimuth about Y.
    u = np.cos(a) * x - np.sin(a) * z
    depth = np.sin(a) * x + np.cos(a) * z
    v = np.cos(e) * y - np.sin(e) * depth
    return np.stack([u, v], axis=-1)  # a figure facing +Z shows its left side (+X) on the image's right


def _draw_figure(draw: ImageDraw.ImageDraw, points: np.ndarray, ground_v: float, box: tuple[int, int, int, int],
                 metres_per_panel: float, skeleton: Skeleton) -> None:
    """points: (J, 2) projected, already centred on the root horizontally."""
    left, top, right, bottom = box
    scale = (bottom - top) / metres_per_panel
    centre_x, floor_y = (left + right) / 2, bottom - 0.08 * (bottom - top)

    def to_pixel(p):
        return centre_x + p[0] * scale, floor_y - (p[1] - ground_v) * scale

    draw.line([(left + 6, floor_y), (right - 6, floor_y)], fill=(190, 190, 185), width=1)
    for chain, colour in zip(skeleton.kinematic_chains, _CHAIN_COLOURS):
        draw.line([to_pixel(points[j]) for j in chain], fill=colour, width=max(2, int(scale * 0.03)), joint="curve")
    head = to_pixel(points[skeleton.index("head")])
    r = max(3, int(scale * 0.06))
    draw.ellipse([head[0] - r, head[1] - r, head[0] + r, head[1] + r], outline=(40, 40, 40), width=2)


def _face_camera(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(T, J, 3) turned about Y so that the first frame faces +Z, towards the camera."""
    return rotate_about_y(np.asarray(positions, dtype=np.float64), -body_heading(positions[0]))


def _panel_points(positions: np.ndarray, skeleton: Skeleton = HUMANML3D_SKELETON) -> tuple[np.ndarray, float]:
    """(T, J, 3) -> (T, J, 2) projected points centred on the root, and the floor's v."""
    positions = _face_camera(positions, skeleton)
    centred = positions.copy()
    centred[..., [0, 2]] -= positions[:, :1, [0, 2]]
    points = project(centred)
    floor = project(np.array([0.0, positions[..., 1].min(), 0.0]))[1]
    return points, float(floor)


def render_strip(positions: np.ndarray, frames: int = 8, panel: int = 150, title: str | None = None,
                 skeleton: Skeleton = HUMANML3D_SKELETON) -> Image.Image:
    """One row of `frames` evenly spaced poses of a motion."""
    points, floor = _panel_points(positions)
    picks = np.linspace(0, len(positions) - 1, frames).round().astype(int)
    header = 18 if title else 0
    image = Image.new("RGB", (panel * frames, panel + header), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((6, 3), title, fill=(20, 20, 20))
    for i, t in enumerate(picks):
        box = (i * panel, header, (i + 1) * panel, header + panel)
        _draw_figure(draw, points[t], floor, box, metres_per_panel=2.0, skeleton=skeleton)
        draw.text((i * panel + 4, header + panel - 12), f"{t / 20:.1f}s", fill=(120, 120, 120))
    return image


def render_contact_sheet(motions: list[tuple[str, np.ndarray]], frames: int = 8, panel: int = 150,
                         footer: str | None = None) -> Image.Image:
    """Rows of strips, one per (title, (T, J, 3) positions), and an optional footer line (e.g. a licence)."""
    strips = [render_strip(positions, frames, panel, title) for title, positions in motions]
    footer_height = 18 if footer else 0
    sheet = Image.new("RGB", (max(s.width for s in strips), sum(s.height for s in strips) + footer_height), _BACKGROUND)
    y = 0
    for strip in strips:
        sheet.paste(strip, (0, y))
        y += strip.height
    if footer:
        ImageDraw.Draw(sheet).text((6, y + 3), footer, fill=(90, 90, 90))
    return sheet


def render_animation(motions: list[tuple[str, np.ndarray]], fps: int = 20, panel: int = 220) -> list[Image.Image]:
    """Frames of an animation with the motions side by side (shorter ones hold their last pose)."""
    prepared = [(title, *_panel_points(positions)) for title, positions in motions]
    length = max(len(points) for _, points, _ in prepared)
    frames = []
    for t in range(length):
        image = Image.new("RGB", (panel * len(prepared), panel + 18), _BACKGROUND)
        draw = ImageDraw.Draw(image)
        for i, (title, points, floor) in enumerate(prepared):
            draw.text((i * panel + 6, 3), title[:34], fill=(20, 20, 20))
            box = (i * panel, 18, (i + 1) * panel, 18 + panel)
            _draw_figure(draw, points[min(t, len(points) - 1)], floor, box, 2.1, HUMANML3D_SKELETON)
        frames.append(image)
    return frames


def save_png(image: Image.Image, path: str | Path) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())


def save_gif(frames: list[Image.Image], path: str | Path, fps: int = 20) -> None:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    write_bytes(path, buffer.getvalue())
