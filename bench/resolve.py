"""How long a key edit takes to show its new motion: the studio's local re-solve (conditioning/resolve.py).

    python bench/resolve.py [--edits 12] [--no-studio]

A 4 s motion is generated once by the shipped model ("a person walks forward and waves", seed 0).
Edits, in turn, as an animator makes them: a key added at 1.5 s (a lifted drawing with the right
wrist raised), its wrist moved, the key moved to 2 s and back, a second key at 3 s and its pose
changed, and so on, cycling until --edits have been timed. Two timings per edit:

- re-solve: stale_stretch + resolve_stretch alone (the worker's work), on this thread;
- studio (unless --no-studio): a real studio window on a virtual X display (xvfb-run), the edit sent
  through the widget signals a drag sends (timeline.key_moved, canvas.joint_moved), timed until the
  re-solved motion is in the project and the window has processed its repaint events.

One edit is made first and not timed (it loads the lifter and warms the caches). Prints the
median and the largest, in seconds, with the load average before and after (this
machine may be running other work: the load says how busy it was). Target: under 1 s on a
2-core CPU.
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RIGHT_WRIST = 4  # COCO-18


def generated_motion() -> np.ndarray:
    from keymask.core.generation.pipeline import MotionPipeline
    from keymask.studio.worker import default_model_folder

    pipeline = MotionPipeline.from_folder(default_model_folder())
    return pipeline(["a person walks forward and waves"], frames=80, seed=0).motions[0].joints.astype(np.float32)


def drawn_pose(lift_by: float):
    from keymask.studio.pose_canvas import default_pose

    pose = default_pose((512, 512))
    keypoints = pose.keypoints.copy()
    keypoints[RIGHT_WRIST] += (40.0, -lift_by)
    return replace(pose, keypoints=keypoints)


def time_resolves(motion: np.ndarray, edits: int) -> list[float]:
    """Seconds of stale_stretch + resolve_stretch for a cycle of key edits."""
    from keymask.conditioning.lifting.lift import lift_pose
    from keymask.conditioning.resolve import StretchKey, resolve_stretch, stale_stretch

    keys: dict[int, object] = {}  # frame -> pose
    resolve_stretch(motion, [StretchKey(lift_pose(drawn_pose(100)), 20)], (0, 41))  # warm-up, not timed
    times = []
    plan = [("add", 30, 200), ("pose", 30, 120), ("move", 30, 40), ("move", 40, 30), ("add", 60, 160),
            ("pose", 60, 60)]
    for i in range(edits):
        kind, a, b = plan[i % len(plan)]
        if kind == "add" and a in keys:
            kind, b = "pose", 200 - b
        start = time.perf_counter()
        if kind == "move":
            keys[b] = keys.pop(a)
            frames, moved, at = [a, b], (a, b), b
        else:
            keys[a] = lift_pose(drawn_pose(b))
            frames, moved, at = [a], None, a
        anchors = [f for f in keys if f != at]
        stretch = stale_stretch(len(motion), frames, anchors)
        motion = resolve_stretch(motion, [StretchKey(p, f) for f, p in keys.items()], stretch, moved=moved)
        times.append(time.perf_counter() - start)
    return times


def time_studio(motion_file: Path, edits: int) -> list[float]:
    """Seconds from an edit sent through the widget signals to the re-solved motion in the window
    (run on an X display: main() starts this under xvfb-run)."""
    import tempfile

    from PyQt6.QtWidgets import QApplication

    from keymask.studio.main_window import FPS, MainWindow
    from keymask.studio.project import Project, save_project

    app = QApplication.instance() or QApplication(sys.argv)
    folder = Path(tempfile.mkdtemp())
    os.environ["KEYMASK_STUDIO_RECOVERY_DIR"] = str(folder / "recovery")
    os.environ["KEYMASK_STUDIO_CONFIG_DIR"] = str(folder / "config")
    path = folder / "bench.keymask.json"
    save_project(path, Project(prompt="a person walks forward and waves", seconds=4.0,
                               motions=[np.load(motion_file)]))
    window = MainWindow(path, recover="no")
    window.confirm_close = False
    window.show()
    app.processEvents()

    def settle(before) -> None:
        while window.project.motion is before or window.timeline.stale_spans:
            app.processEvents()
        app.processEvents()  # the repaint the new motion asked for

    before = window.project.motion
    window.add_key(30)  # the first key, with the drawing's pose (not timed)
    settle(before)
    window.select_key(0)
    times = []
    for i in range(edits):
        before = window.project.motion
        start = time.perf_counter()
        if i % 2 == 0:
            frame = window.project.keys[0].frame(FPS)
            window.timeline.key_moved.emit(0, 40 if frame == 30 else 30)
        else:
            old = tuple(window.canvas.pose().keypoints[RIGHT_WRIST])
            new = (old[0], old[1] + (-60.0 if i % 4 == 1 else 60.0))
            window.canvas.joint_moved.emit(RIGHT_WRIST, old, new)
        settle(before)
        times.append(time.perf_counter() - start)
    window.close()
    return times


def report(name: str, times: list[float]) -> None:
    print(f"{name:>10}: median {statistics.median(times):.3f} s, largest {max(times):.3f} s over {len(times)} edits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=12)
    parser.add_argument("--no-studio", action="store_true", help="time the re-solve alone, without a window")
    parser.add_argument("--studio-only", type=Path, default=None, help=argparse.SUPPRESS)  # MOTION.npy, on a display
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if args.studio_only is not None:
        report("studio", time_studio(args.studio_only, args.edits))
        return
    motion = generated_motion()
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}, load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    report("re-solve", time_resolves(motion, args.edits))
    if not args.no_studio:
        import subprocess
        import tempfile

        motion_file = Path(tempfile.mkdtemp()) / "motion.npy"
        np.save(motion_file, motion)
        sys.stdout.flush()
        subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", sys.executable, __file__,
                        "--studio-only", str(motion_file), "--edits", str(args.edits)], check=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
