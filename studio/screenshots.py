"""Screenshots of the real studio window for the docs, made the way an animator makes the scene:

    python -m keymask.studio.screenshots docs/

writes studio_first_launch.png (the window as it first opens), studio_main.png (the window after a
generation with two key poses), studio_pose_canvas.png (the key pose panel: the 2D canvas and its 3D
lift), studio_samples.png (three samples side by side), studio_posing.png (pose mode in the 3D view,
its handles on the figure at the playhead), studio_posing.gif (a wrist handle dragged, the key's
stretch hatched on the timeline and re-solved, then played through) and studio_dope_sheet.png (the
timeline zoomed in, a key with its hold and ease drawn). Generation runs on the shipped model with a
fixed seed, so the pictures change only when the studio or the model does. Without a display it runs
itself again under `xvfb-run` (never under QT_QPA_PLATFORM=offscreen, where the 3D view has no
OpenGL). Recovery files and settings go to a temporary folder, so the user's are not touched.
"""

import faulthandler
import os
import shutil
import sys
import tempfile
from pathlib import Path

PROMPT = "a person walks forward and waves with the right hand"
SEED = 3
SECONDS = 5.0
WINDOW_SIZE = (1600, 1000)
SCREEN = "-screen 0 1920x1200x24"
# Key poses: (time in seconds, COCO-18 joint -> (x, y) moved on the default pose, in canvas fractions).
KEYS = (
    (1.5, {"right_elbow": (0.30, 0.22), "right_wrist": (0.28, 0.08)}),  # right hand raised high
    (3.5, {"right_elbow": (0.28, 0.27), "right_wrist": (0.16, 0.27),  # arms held out to the sides
           "left_elbow": (0.72, 0.27), "left_wrist": (0.84, 0.27)}),
)
POSE_SECONDS = 2.5  # the playhead for posing in 3D: between the two keys
# Where the right wrist's handle is dragged to: from the shoulder, in arm lengths on the screen (x right, y down),
# out to the figure's right (the screen's left, seen from the front) a little below the shoulder, within reach,
# so the hand follows the cursor whatever pose the model gave the arm.
WRIST_REACH = (-0.85, 0.25)
ZOOM_OUT = 1.4  # the posing pictures' camera, this much farther than framing the figure puts it
GIF_WIDTH = 560  # pixels; the GIF's frames are the motion area scaled to this width
GIF_FRAME_MS = 100
TIMING = {"hold": 6, "ease": 12}  # frames, typed for the posed key in the dope sheet picture


def _rerun_under_xvfb(argv: list[str]) -> int:
    if shutil.which("xvfb-run") is None:
        print("keymask studio screenshots: no display and no xvfb-run: install xvfb or run under a display.",
              file=sys.stderr)
        return 2
    os.execvp("xvfb-run", ["xvfb-run", "-a", "-s", SCREEN, sys.executable, "-m", "keymask.studio.screenshots",
                           *argv])


def key_pose(moves: dict[str, tuple[float, float]]):
    """The canvas's default pose with some joints moved (fractions of the 512 x 512 canvas)."""
    from keymask.conditioning.poses import COCO18_JOINTS
    from keymask.studio.panels import DEFAULT_CANVAS
    from keymask.studio.pose_canvas import default_pose

    pose = default_pose(DEFAULT_CANVAS)
    for name, (x, y) in moves.items():
        pose.keypoints[COCO18_JOINTS.index(name)] = (x * DEFAULT_CANVAS[0], y * DEFAULT_CANVAS[1])
    return pose


def take(out_dir: Path) -> None:
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    from keymask.core.spec import HUMANML3D
    from keymask.studio.app import delete_window
    from keymask.studio.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])  # kept: the window lives in it
    app.setApplicationName("KeyMask Studio")
    window = MainWindow(recover="no")
    window.confirm_close = False
    window.resize(*WINDOW_SIZE)
    window.show()
    QTest.qWait(300)
    out_dir.mkdir(parents=True, exist_ok=True)
    def wrote(path: Path) -> None:
        print(path, flush=True)  # as it is written, so a failure later still shows what was made

    def save(widget, name: str) -> None:
        QTest.qWait(300)  # let the 3D view draw
        path = out_dir / name
        if not widget.grab().save(str(path)):
            raise OSError(f"Could not write {path}.")
        wrote(path)

    # 0. As it first opens: the prompt waiting for text, an empty stage.
    save(window, "studio_first_launch.png")

    # 1. The scene: prompt, length, seed, three samples, two key poses.
    window.prompt_edit.setPlainText(PROMPT)
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(SECONDS)
    window.seed_spin.setValue(SEED)
    window.samples_spin.setValue(3)
    for seconds, moves in KEYS:
        window.set_frame(round(seconds * HUMANML3D.fps))
        window.add_key(window.frame, key_pose(moves))

    # 2. Generate and wait for the worker.
    generate(window)

    # 3. Pictures: the chosen sample overlaid with its key ghosts, the pose panel, the samples side by side.
    window.layout_box.setCurrentIndex(1)  # overlaid
    window.select_key(0)
    window.set_frame(round(KEYS[0][0] * HUMANML3D.fps))
    save(window, "studio_main.png")
    window.select_key(1)
    save(window.pose_group, "studio_pose_canvas.png")
    window.layout_box.setCurrentIndex(0)  # side by side
    window.set_frame(round(KEYS[1][0] * HUMANML3D.fps))
    save(window.motion_area, "studio_samples.png")

    # 4. Posing in 3D on one sample through the same keys: pose mode at 2.5 s, from the front.
    window.samples_spin.setValue(1)
    generate(window)
    frame = round(POSE_SECONDS * HUMANML3D.fps)
    window.set_frame(frame)
    viewport = window.viewport
    viewport.set_view("front")
    viewport.frame_figure()
    viewport.view.setCameraPosition(distance=viewport.view.opts["distance"] * ZOOM_OUT)  # room for a raised hand
    viewport.pose_button.click()
    save(window.motion_area, "studio_posing.png")

    # 5. The GIF: drag the right wrist's handle, the stretch hatched and re-solved, then play through it.
    wrote(posing_gif(window, out_dir / "studio_posing.gif", frame))

    # 6. The dope sheet: the posed key's hold and ease typed, the timeline zoomed in about it.
    index = window.project.keys.index(next(k for k in window.project.keys if k.frame() == frame))
    for field, value in TIMING.items():
        window.timeline.apply_value(index, field, value)
        wait_for_resolve(window)
    window.timeline.zoom(2.5, window.timeline.x_of(frame))
    window.set_frame(frame + TIMING["hold"] // 2)
    save(window.timeline, "studio_dope_sheet.png")
    window.stack.setClean()
    window.close()
    delete_window(window)


def generate(window) -> None:
    """Generate (or regenerate) and wait for the worker."""
    from PyQt6.QtCore import QEventLoop

    loop = QEventLoop()
    done = {}
    on_done = lambda job, result: (done.update(ok=True), loop.quit())  # noqa: E731
    on_fail = lambda job, message: (done.update(error=message), loop.quit())  # noqa: E731
    window.jobs.worker.finished.connect(on_done)
    window.jobs.worker.failed.connect(on_fail)
    window.foreground_jobs.generate()
    loop.exec()
    window.jobs.worker.finished.disconnect(on_done)
    window.jobs.worker.failed.disconnect(on_fail)
    if "error" in done:
        raise RuntimeError(f"Generation failed: {done['error']}")


def wait_for_resolve(window, timeout_s: float = 60.0) -> None:
    """Wait until no key's stretch is stale on the timeline (its local re-solve is in)."""
    import time

    from PyQt6.QtTest import QTest

    deadline = time.monotonic() + timeout_s
    while window.timeline.stale_spans:
        if time.monotonic() > deadline:
            raise RuntimeError("The local re-solve did not finish.")
        QTest.qWait(20)


def posing_gif(window, path: Path, frame: int) -> Path:
    """Frames of the motion area grabbed while the right wrist's handle is dragged by real mouse events
    (the cursor drawn in), while its stretch is stale, once re-solved, and played through the stretch."""
    import io

    import numpy as np
    from PIL import Image, ImageDraw
    from PyQt6.QtCore import QBuffer, QIODevice, QPoint, Qt
    from PyQt6.QtTest import QTest

    from keymask.core.skeleton import HUMANML3D_SKELETON

    area, viewport = window.motion_area, window.viewport
    view = viewport.view
    frames: list[Image.Image] = []

    def grab(cursor: QPoint | None = None, repeat: int = 1) -> None:
        QTest.qWait(40)
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        area.grab().save(buffer, "PNG")
        image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
        if cursor is not None:  # where the mouse is: a ring, as the grab has no cursor
            at = view.mapTo(area, cursor)
            draw = ImageDraw.Draw(image)
            draw.ellipse([at.x() - 9, at.y() - 9, at.x() + 9, at.y() + 9], outline=(255, 255, 255), width=3)
            draw.ellipse([at.x() - 11, at.y() - 11, at.x() + 11, at.y() + 11], outline=(0, 0, 0), width=1)
        scale = GIF_WIDTH / image.width
        image = image.resize((GIF_WIDTH, round(image.height * scale)), Image.Resampling.LANCZOS)
        frames.extend([image] * repeat)

    shoulder, elbow, wrist = (HUMANML3D_SKELETON.index(f"right_{j}") for j in ("shoulder", "elbow", "wrist"))
    pixels = viewport.widget_points(viewport.posed_joints()) - [view.x(), view.y()]  # (J, 2) in the GL view
    arm = np.linalg.norm(pixels[elbow] - pixels[shoulder]) + np.linalg.norm(pixels[wrist] - pixels[elbow])
    start = QPoint(round(pixels[wrist][0]), round(pixels[wrist][1]))
    end = pixels[shoulder] + arm * np.array(WRIST_REACH)
    drag = (end[0] - start.x(), end[1] - start.y())
    grab(start, repeat=5)
    QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    steps = 12
    for i in range(1, steps + 1):
        point = start + QPoint(round(drag[0] * i / steps), round(drag[1] * i / steps))
        QTest.mouseMove(view, point)
        grab(point)
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=point)
    grab(point, repeat=4)  # the stretch hatched while it is re-solved
    stale = frames[-1]
    wait_for_resolve(window)
    grab(point, repeat=6)
    viewport.pose_button.click()  # out of pose mode: the motion, through the new key
    first, last = max(frame - 20, 0), min(frame + 21, window.timeline.length)
    for f in range(first, last, 2):
        window.set_frame(f)
        grab()
    window.set_frame(frame)
    grab(repeat=8)

    # One palette for all frames, from the first, the stale and the last (the handles, the hatching, the motion).
    sheet = Image.new("RGB", (GIF_WIDTH, 3 * frames[0].height))
    for i, image in enumerate((frames[0], stale, frames[-1])):
        sheet.paste(image, (0, i * image.height))
    palette = sheet.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    frames = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS, loop=0, optimize=True)
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        print("keymask studio screenshots: the 3D view needs OpenGL, which QT_QPA_PLATFORM=offscreen lacks; "
              "unset it (xvfb-run is used when there is no display).", file=sys.stderr)
        return 2
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return _rerun_under_xvfb(argv)
    faulthandler.enable()  # a crash in Qt or OpenGL prints where it happened
    out_dir = Path(argv[0]) if argv else Path("docs")
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["KEYMASK_STUDIO_RECOVERY_DIR"] = str(Path(scratch) / "recovery")
        os.environ["KEYMASK_STUDIO_CONFIG_DIR"] = str(Path(scratch) / "config")
        take(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
