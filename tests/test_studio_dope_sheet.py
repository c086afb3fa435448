"""The timeline as a dope sheet, driven with real mouse, wheel and key events: frame numbers on the
ruler and on the playhead, zoom about the mouse and pan with their limits and fit-all, snapping to
whole frames, keep span edges dragged as ranges, typing a key's frame, hold and ease, and (in the
studio window) those edits as undoable key edits with their local re-solve, and "Key the current pose"."""

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QImage, QWheelEvent
from PyQt6.QtWidgets import QApplication

from keymask.studio.timeline import (
    EASE_COLOUR,
    HOLD_COLOUR,
    MAX_PIXELS_PER_FRAME,
    PLAYHEAD_COLOUR,
    RULER_HEIGHT,
    Timeline,
)


class Recorder:
    """Collects a signal's emissions as tuples."""

    def __init__(self, signal):
        self.calls = []
        signal.connect(lambda *args: self.calls.append(args))


@pytest.fixture
def sheet(qtbot):
    widget = Timeline()
    qtbot.addWidget(widget)
    widget.resize(424, 80)  # 400 usable pixels for 101 frames: 4 pixels a frame
    widget.set_length(101, fps=20)
    widget.set_keys([20, 60])
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def at(widget: Timeline, frame: float, y: float) -> QPoint:
    return QPoint(round(widget.x_of(frame)), round(y))


def wheel(widget, point: QPoint, notches: float, modifiers=Qt.KeyboardModifier.NoModifier, sideways=False) -> None:
    delta = QPoint(round(120 * notches), 0) if sideways else QPoint(0, round(120 * notches))
    event = QWheelEvent(QPointF(point), QPointF(widget.mapToGlobal(point)), QPoint(0, 0), delta,
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def pixels(image: QImage) -> np.ndarray:
    """(H, W, 3) int RGB of an image."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return rows.reshape(image.height(), image.bytesPerLine())[:, :image.width() * 3].reshape(
        image.height(), image.width(), 3).astype(int)


def near(rgb: np.ndarray, colour, tolerance: int = 10) -> np.ndarray:
    return np.abs(rgb - np.array(colour.getRgb()[:3])).max(axis=-1) <= tolerance


CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


# ---- the ruler -----------------------------------------------------------------------------------

def test_the_ruler_numbers_frames_with_ticks_that_follow_the_zoom(sheet, qtbot):
    labels, minors = sheet.ruler_ticks()
    assert labels == list(range(0, 101, 10))  # 4 pixels a frame: every 10th frame is numbered
    assert minors[:4] == [2, 4, 6, 8] and 10 not in minors
    for _ in range(6):  # 1.25^6 = 3.8x: about 15 pixels a frame
        wheel(sheet, at(sheet, 50, RULER_HEIGHT // 2), 1)
    labels, minors = sheet.ruler_ticks()
    assert labels[1] - labels[0] == 5 and minors[1] - minors[0] == 1
    first, last = sheet.visible_frames
    assert all(first - 3 <= f <= last + 3 for f in labels)  # only the frames in view

    # The playhead carries its frame number on the ruler: a red tag, wider than the line, with light text.
    sheet.fit_all()
    sheet.set_frame(37)
    tag = sheet.playhead_label_rect()
    assert tag.center().x() == pytest.approx(sheet.x_of(37), abs=1) and tag.width() >= 12
    rgb = pixels(sheet.grab().toImage())
    inside = rgb[round(tag.top()) + 2:round(tag.bottom()) - 2, round(tag.left()) + 2:round(tag.right()) - 2]
    assert near(inside, PLAYHEAD_COLOUR, 30).mean() > 0.4  # mostly the tag's red ...
    assert (inside.min(axis=-1) > 170).sum() >= 5  # ... with the number written on it
    sheet.set_frame(80)
    assert sheet.playhead_label_rect().center().x() == pytest.approx(sheet.x_of(80), abs=1)


# ---- zoom, pan, fit ------------------------------------------------------------------------------

def test_zoom_is_about_the_mouse_and_stops_at_its_limits(sheet, qtbot):
    track_y = sheet.height() - 10
    assert sheet.pixels_per_frame == pytest.approx(4.0)
    # Ctrl + wheel over the track zooms in about the frame under the mouse.
    mouse = at(sheet, 30, track_y)
    wheel(sheet, mouse, 2, CTRL)
    assert sheet.pixels_per_frame == pytest.approx(4.0 * 1.25 ** 2)
    assert sheet.x_of(30) == pytest.approx(mouse.x(), abs=0.5)
    # The plain wheel zooms over the ruler, about the mouse there too ...
    mouse = QPoint(300, RULER_HEIGHT // 2)
    under = sheet.frame_at(300)
    wheel(sheet, mouse, 1)
    assert sheet.pixels_per_frame == pytest.approx(4.0 * 1.25 ** 3)
    assert sheet.frame_at(300) == under
    # ... but not over the track, where it is left to the window.
    before = sheet.visible_frames
    wheel(sheet, at(sheet, 40, track_y), 3)
    assert sheet.visible_frames == before
    # No closer than MAX_PIXELS_PER_FRAME pixels a frame, no further out than the whole motion.
    for _ in range(30):
        wheel(sheet, mouse, 1, CTRL)
    assert sheet.pixels_per_frame == pytest.approx(MAX_PIXELS_PER_FRAME)
    for _ in range(30):
        wheel(sheet, mouse, -1, CTRL)
    assert sheet.visible_frames == (0.0, 100.0)


def test_pan_with_shift_wheel_or_middle_drag_and_fit_all_with_home_or_a_double_click(sheet, qtbot):
    track_y = sheet.height() - 10
    wheel(sheet, QPoint(212, RULER_HEIGHT // 2), 7.0)  # the middle, zoomed 1.25^7 = 4.8x
    first, last = sheet.visible_frames
    assert first > 20 and last < 80
    # Shift + wheel pans (a notch away from the user moves the view back in time), as a sideways wheel does.
    wheel(sheet, QPoint(212, track_y), -2, SHIFT)
    panned = sheet.visible_frames[0]
    assert panned > first
    wheel(sheet, QPoint(212, track_y), 1, sideways=True)
    assert sheet.visible_frames[0] < panned
    # A middle drag pans: the frame under the mouse goes along with it.
    grabbed = sheet.frame_at(300)
    qtbot.mousePress(sheet, Qt.MouseButton.MiddleButton, pos=QPoint(300, track_y))
    qtbot.mouseMove(sheet, QPoint(250, track_y))
    qtbot.mouseMove(sheet, QPoint(200, track_y))
    qtbot.mouseRelease(sheet, Qt.MouseButton.MiddleButton, pos=QPoint(200, track_y))
    assert sheet.frame_at(200) == grabbed and sheet.frame == 0  # panning does not scrub
    # Never past the motion's ends.
    for _ in range(40):
        wheel(sheet, QPoint(212, track_y), -3, SHIFT)
    assert sheet.visible_frames[1] == pytest.approx(100.0)
    # Home shows the whole motion again; so does a double click on the ruler.
    sheet.setFocus()
    qtbot.keyClick(sheet, Qt.Key.Key_Home)
    assert sheet.visible_frames == (0.0, 100.0) and sheet.frame == 0
    wheel(sheet, QPoint(100, RULER_HEIGHT // 2), 4)
    assert sheet.visible_frames != (0.0, 100.0)
    qtbot.mouseDClick(sheet, Qt.MouseButton.LeftButton, pos=QPoint(100, RULER_HEIGHT // 2))
    assert sheet.visible_frames == (0.0, 100.0)
    # Ctrl+End / Ctrl+Home jump to the ends.
    qtbot.keyClick(sheet, Qt.Key.Key_End, CTRL)
    assert sheet.frame == 100
    qtbot.keyClick(sheet, Qt.Key.Key_Home, CTRL)
    assert sheet.frame == 0


# ---- snapping ------------------------------------------------------------------------------------

def test_playhead_keys_and_span_edges_snap_to_whole_frames_when_zoomed(sheet, qtbot):
    wheel(sheet, at(sheet, 25, RULER_HEIGHT // 2), 8, CTRL)  # about 24 pixels a frame
    assert sheet.pixels_per_frame > 20
    frames = Recorder(sheet.frame_changed)
    qtbot.mouseClick(sheet, Qt.MouseButton.LeftButton, pos=at(sheet, 21.6, RULER_HEIGHT // 2))
    assert frames.calls == [(22,)]
    # A key dragged to between frames lands on the nearest one and is drawn exactly there.
    moved = Recorder(sheet.key_moved)
    y = sheet.marker_centre(0).y()
    qtbot.mousePress(sheet, Qt.MouseButton.LeftButton, pos=at(sheet, 20, y))
    qtbot.mouseMove(sheet, at(sheet, 21.3, y))
    qtbot.mouseMove(sheet, at(sheet, 23.4, y))
    assert sheet.marker_centre(0).x() == pytest.approx(sheet.x_of(23))
    qtbot.mouseRelease(sheet, Qt.MouseButton.LeftButton, pos=at(sheet, 23.4, y))
    assert moved.calls == [(0, 23)] and sheet.keys == [23, 60]


def test_keep_span_edges_drag_as_ranges(sheet, qtbot):
    spans = Recorder(sheet.keep_spans_changed)
    sheet.set_keep_spans([(30, 50), (70, 80)])
    y = sheet.height() - 8
    # The right edge of [30, 50) dragged to frame 59.3: the span keeps frames 30 to 59.
    edge = QPoint(round(sheet.span_edge_x(0, 1)), y)
    assert sheet.edge_at(QPointF(edge)) == (0, 1)
    qtbot.mousePress(sheet, Qt.MouseButton.LeftButton, pos=edge)
    qtbot.mouseMove(sheet, at(sheet, 55, y))
    qtbot.mouseMove(sheet, at(sheet, 59.3, y))
    assert spans.calls == [] and sheet.frame == 0  # shown, not emitted, and no scrubbing
    qtbot.mouseRelease(sheet, Qt.MouseButton.LeftButton, pos=at(sheet, 59.3, y))
    assert spans.calls == [([(30, 60), (70, 80)],)]
    # The left edge dragged to 24.8: frames 25 to 59.
    qtbot.mousePress(sheet, Qt.MouseButton.LeftButton, pos=QPoint(round(sheet.span_edge_x(0, 0)), y))
    qtbot.mouseMove(sheet, at(sheet, 27, y))
    qtbot.mouseRelease(sheet, Qt.MouseButton.LeftButton, pos=at(sheet, 24.8, y))
    assert spans.calls[-1] == ([(25, 60), (70, 80)],)
    # Dragged past the other edge, a span keeps one frame; dragged onto the next span, the two merge.
    qtbot.mousePress(sheet, Qt.MouseButton.LeftButton, pos=QPoint(round(sheet.span_edge_x(1, 0)), y))
    qtbot.mouseMove(sheet, at(sheet, 85, y))
    qtbot.mouseRelease(sheet, Qt.MouseButton.LeftButton, pos=at(sheet, 95, y))
    assert spans.calls[-1] == ([(25, 60), (79, 80)],)
    sheet.set_keep_spans(spans.calls[-1][0])
    qtbot.mousePress(sheet, Qt.MouseButton.LeftButton, pos=QPoint(round(sheet.span_edge_x(0, 1)), y))
    qtbot.mouseMove(sheet, at(sheet, 70, y))
    qtbot.mouseRelease(sheet, Qt.MouseButton.LeftButton, pos=at(sheet, 79, y))
    assert spans.calls[-1] == ([(25, 80)],)


# ---- keys: jumping and typing a frame, hold and ease ---------------------------------------------

def test_up_and_down_jump_between_keys_as_the_window_does(sheet, qtbot):
    frames, selected = Recorder(sheet.frame_changed), Recorder(sheet.key_selected)
    sheet.setFocus()
    sheet.set_frame(30)
    qtbot.keyClick(sheet, Qt.Key.Key_Up)
    assert sheet.frame == 60 and sheet.selected_key == 1
    qtbot.keyClick(sheet, Qt.Key.Key_Up)  # no key after the last: nothing moves
    qtbot.keyClick(sheet, Qt.Key.Key_Down)
    qtbot.keyClick(sheet, Qt.Key.Key_Down)
    assert frames.calls == [(60,), (20,)] and selected.calls == [(1,), (0,)]


def test_typing_a_key_frame_applies_on_enter_and_refuses_in_one_sentence(sheet, qtbot):
    moved = Recorder(sheet.key_moved)
    qtbot.mouseDClick(sheet, Qt.MouseButton.LeftButton, pos=sheet.marker_centre(0).toPoint())
    editor = sheet.editor
    assert editor is not None and editor.isVisible() and editor.field_edit.text() == "20"
    assert sheet.selected_key == 0
    for typed, said in (("101", "Frame 101 is outside the motion: type a frame from 0 to 100."),
                        ("60", "Frame 60 already has key pose 2: choose a free frame."),
                        ("soon", "\"soon\" is not a number: type whole frames (30) or seconds (1.5s).")):
        editor.field_edit.selectAll()
        qtbot.keyClicks(editor.field_edit, typed)
        qtbot.keyClick(editor.field_edit, Qt.Key.Key_Return)
        assert editor.isVisible() and editor.message.isVisible() and editor.message.text() == said
        assert said.count(".") == 1 or said.endswith("(1.5s).")
    assert moved.calls == [] and sheet.keys == [20, 60]
    # Seconds work too: 1.5s is frame 30; Enter applies and closes.
    editor.field_edit.selectAll()
    qtbot.keyClicks(editor.field_edit, "1.5s")
    qtbot.keyClick(editor.field_edit, Qt.Key.Key_Enter)
    assert moved.calls == [(0, 30)] and sheet.keys == [30, 60]
    assert not editor.isVisible() and sheet.editor is None
    # Escape closes without a change.
    editor = sheet.edit_key(1, "frame")
    qtbot.keyClicks(editor.field_edit, "70")
    qtbot.keyClick(editor.field_edit, Qt.Key.Key_Escape)
    assert not editor.isVisible() and moved.calls == [(0, 30)]


def test_hold_and_ease_are_drawn_and_typed_from_the_context_menu(sheet, qtbot):
    timing = Recorder(sheet.key_timing_requested)
    y = sheet.marker_centre(0).y()
    before = pixels(sheet.grab().toImage())
    sheet.set_keys([20, 60], [(10, 5), (0, 0)])
    assert sheet.key_timing == [(10, 5), (0, 0)]
    rgb = pixels(sheet.grab().toImage())
    row = rgb[round(y)]
    # The hold: a bar from the marker's edge to frame 30, none after the second key.
    assert near(row[round(sheet.x_of(20)) + 8:round(sheet.x_of(30)) - 1], HOLD_COLOUR).all()
    assert not near(row[round(sheet.x_of(30)) + 2:], HOLD_COLOUR).any()
    # The ease: a ramp rising into the key over frames 15-20 and falling after the hold over 30-35,
    # drawn over the track's floor; the second key, without ease, has none.
    floor = round(sheet.height() - 5)
    changed = np.abs(rgb[floor] - before[floor]).max(axis=-1) > 8
    assert changed[round(sheet.x_of(16)):round(sheet.x_of(20))].all()
    assert changed[round(sheet.x_of(31)):round(sheet.x_of(34))].all()
    assert not changed[round(sheet.x_of(40)):].any() and not changed[:round(sheet.x_of(14))].any()
    assert EASE_COLOUR.alpha() < 255  # shading: the span under it still shows

    # From the marker's menu: Set hold… opens the input with the hold; a hold into the next key is refused.
    menu = sheet.context_menu(QPointF(sheet.marker_centre(0)))
    actions = {action.text().split(" ")[1]: action for action in menu.actions() if action.text().startswith("Set")}
    assert set(actions) == {"frame…", "hold…", "ease…"}
    actions["hold…"].trigger()
    editor = sheet.editor
    assert editor.field_edit.text() == "10"
    editor.field_edit.selectAll()
    qtbot.keyClicks(editor.field_edit, "50")
    qtbot.keyClick(editor.field_edit, Qt.Key.Key_Return)
    assert editor.message.text() == "A hold of 50 frames reaches key pose 2 at frame 60: hold at most 39."
    editor.field_edit.selectAll()
    qtbot.keyClicks(editor.field_edit, "0.6s")
    qtbot.keyClick(editor.field_edit, Qt.Key.Key_Return)
    assert timing.calls == [(0, 12, 5)]
    menu = sheet.context_menu(QPointF(sheet.marker_centre(1)))
    next(a for a in menu.actions() if a.text().startswith("Set ease")).trigger()
    qtbot.keyClicks(sheet.editor.field_edit, "100")
    qtbot.keyClick(sheet.editor.field_edit, Qt.Key.Key_Return)
    assert sheet.editor.message.text() == "An ease of 100 frames is longer than 3 s: type at most 60."
    sheet.editor.field_edit.selectAll()
    qtbot.keyClicks(sheet.editor.field_edit, "8")
    qtbot.keyClick(sheet.editor.field_edit, Qt.Key.Key_Return)
    assert timing.calls == [(0, 12, 5), (1, 0, 8)]


# ---- in the studio window ------------------------------------------------------------------------

from keymask.conditioning.refine import bone_direction_error  # noqa: E402
from keymask.core.facing import body_heading, canonical_pose  # noqa: E402
from keymask.studio.jobs import generation_job  # noqa: E402
from keymask.studio.main_window import MainWindow  # noqa: E402
from keymask.studio.project import Project, load_project, save_project  # noqa: E402
from test_studio_app import focus, studio_folders, waving_walk  # noqa: E402,F401


@pytest.fixture
def window(qtbot, tmp_path):
    """A studio window on a saved project holding a 4 s motion (the skeleton walking and raising its right arm)."""
    path = tmp_path / "wave.keymask.json"
    save_project(path, Project(prompt="a person walks and raises an arm", seconds=4.0,
                               motions=[waving_walk(80).astype(np.float32)]))
    window = MainWindow(path, recover="no")
    window.confirm_close = False
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def press_on_timeline(qtbot, window: MainWindow, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, key, modifiers)


def scrub(qtbot, window: MainWindow, frame: int) -> None:
    qtbot.mouseClick(window.timeline, Qt.MouseButton.LeftButton, pos=at(window.timeline, frame, RULER_HEIGHT // 2))
    assert window.frame == frame


def test_key_the_current_pose_makes_a_3d_key_of_the_motions_pose_at_the_playhead(qtbot, window):
    motion = window.project.motion.copy()
    assert window.key_actions["key_pose"].text() == "Key the current pose"
    scrub(qtbot, window, 25)
    assert window.playback.time_label.text().endswith("frame 25 / 79")  # the dope sheet's numbers
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=30_000):
        press_on_timeline(qtbot, window, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    assert window.timeline.keys == [25] and window.selected_key == 0
    key = window.project.keys[0]
    assert key.pose2d is None and window.stack.undoText() == "Add key pose"
    np.testing.assert_allclose(key.pose3d.joints, canonical_pose(motion[25]), atol=1e-6)
    np.testing.assert_allclose(key.pose3d.root_position, motion[25, 0], atol=1e-6)
    assert key.pose3d.facing == pytest.approx(float(body_heading(motion[25])))
    # The key is the motion's own pose, so the re-solve through it leaves the motion where it was.
    assert np.abs(window.project.motion - motion).max() < 0.005
    assert bone_direction_error(window.project.motion[25], key.pose3d.joints) < 1

    # From the dope sheet's menu, at another frame; one undo takes it back.
    scrub(qtbot, window, 60)
    menu = window.timeline.context_menu(QPointF(window.timeline.x_of(60), window.timeline.height() - 8))
    with qtbot.waitSignal(window.resolver.worker.finished, timeout=30_000):
        next(a for a in menu.actions() if a.text().startswith("Key the current pose")).trigger()
    assert window.timeline.keys == [25, 60]
    np.testing.assert_allclose(window.project.keys[1].pose3d.joints, canonical_pose(motion[60]), atol=1e-6)
    qtbot.keyClick(window.timeline, Qt.Key.Key_Z, CTRL)
    assert window.timeline.keys == [25]

    # K on a frame that has a key adds no second one: it selects that key and says so.
    window.select_key(None)
    scrub(qtbot, window, 25)
    press_on_timeline(qtbot, window, Qt.Key.Key_K)
    assert window.timeline.keys == [25] and window.selected_key == 0 and window.stack.index() == 1
    assert window.statusBar().currentMessage().startswith("Frame 25 has key pose 1 already: it is selected")

    # A capital K typed in the prompt is text, not Shift+K.
    focus(qtbot, window, window.prompt_edit)
    qtbot.keyClicks(window.prompt_edit, " Kicks")
    assert " Kicks" in window.project.prompt and window.timeline.keys == [25]

    # Without a motion the 3D view shows no figure: K keys the 2D drawing, and the status line says so.
    window.new_project()
    press_on_timeline(qtbot, window, Qt.Key.Key_K)
    assert len(window.project.keys) == 1 and window.project.keys[0].pose2d is not None
    assert window.statusBar().currentMessage() == (
        "No motion yet, so the 2D drawing was keyed (after Generate, I and K key the 3D figure's pose).")


def test_a_typed_key_frame_moves_the_key_as_a_drag_does(qtbot, window):
    scrub(qtbot, window, 30)
    resolved = window.resolver.worker.finished
    with qtbot.waitSignal(resolved, timeout=30_000):
        press_on_timeline(qtbot, window, Qt.Key.Key_K, SHIFT)  # the canvas's A-pose
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    before = window.project.motion.copy()
    pose = window.project.keys[0].pose3d.joints
    qtbot.mouseDClick(window.timeline, Qt.MouseButton.LeftButton, pos=window.timeline.marker_centre(0).toPoint())
    editor = window.timeline.editor
    assert editor.field_edit.text() == "30"
    editor.field_edit.selectAll()
    qtbot.keyClicks(editor.field_edit, "80")
    qtbot.keyClick(editor.field_edit, Qt.Key.Key_Return)
    assert editor.message.text() == "Frame 80 is outside the motion: type a frame from 0 to 79."
    editor.field_edit.selectAll()
    qtbot.keyClicks(editor.field_edit, "2s")
    with qtbot.waitSignal(resolved, timeout=30_000):
        qtbot.keyClick(editor.field_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    moved = window.project.motion.copy()
    assert window.project.keys[0].frame() == 40 and window.timeline.keys == [40]
    assert window.stack.undoText() == "Move key pose"  # the drag's command, with its local re-solve
    np.testing.assert_array_equal(moved[:10], before[:10])  # outside the stretch (10-61) nothing changed
    np.testing.assert_array_equal(moved[61:], before[61:])
    assert bone_direction_error(moved[40], pose) < 3
    press_on_timeline(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.project.keys[0].frame() == 30 and window.timeline.keys == [30]
    np.testing.assert_array_equal(window.project.motion, before)


def test_hold_and_ease_from_the_dope_sheet_are_undoable_key_edits_the_motion_follows(qtbot, window, tmp_path):
    scrub(qtbot, window, 30)
    resolved = window.resolver.worker.finished
    with qtbot.waitSignal(resolved, timeout=30_000):
        press_on_timeline(qtbot, window, Qt.Key.Key_K, SHIFT)  # the canvas's A-pose
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    assert window.timeline.key_timing == [(0, 15)]  # no hold; the default ease, 0.75 s
    keyed = window.project.motion.copy()
    pose = window.project.keys[0].pose3d.joints
    assert bone_direction_error(keyed[40], pose) > 5  # without a hold the arm goes on rising

    menu = window.timeline.context_menu(QPointF(window.timeline.marker_centre(0)))
    next(a for a in menu.actions() if a.text().startswith("Set hold")).trigger()
    editor = window.timeline.editor
    editor.field_edit.selectAll()
    qtbot.keyClicks(editor.field_edit, "0.5s")
    with qtbot.waitSignal(resolved, timeout=30_000):
        qtbot.keyClick(editor.field_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    key = window.project.keys[0]
    assert key.hold == pytest.approx(0.5) and window.timeline.key_timing == [(10, 15)]
    assert window.stack.undoText() == "Set hold of key pose 1"
    held = window.project.motion.copy()
    assert max(bone_direction_error(held[f], pose) for f in range(30, 41)) < 3  # held from frame 30 to 40
    assert generation_job(window.project).keys[0].hold == 10

    menu = window.timeline.context_menu(QPointF(window.timeline.marker_centre(0)))
    next(a for a in menu.actions() if a.text().startswith("Set ease")).trigger()
    window.timeline.editor.field_edit.selectAll()
    qtbot.keyClicks(window.timeline.editor.field_edit, "1.5s")
    with qtbot.waitSignal(resolved, timeout=30_000):
        qtbot.keyClick(window.timeline.editor.field_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.timeline.stale_spans)
    assert window.project.keys[0].ease == pytest.approx(1.5) and window.timeline.key_timing == [(10, 30)]
    job_key = generation_job(window.project).keys[0]
    assert (job_key.hold, job_key.ease_in, job_key.ease_out) == (10, 30, 30)
    # The ease goes to generation (above) and at once to the re-solve, whose stretch takes in the whole
    # 1.5 s ease before the key (frame 0) and after its hold (to frame 70): the motion turns towards the
    # pose sooner, still holds it, and is the same after the stretch.
    eased = window.project.motion.copy()
    np.testing.assert_array_equal(eased[71:], held[71:])
    assert bone_direction_error(eased[12], pose) < bone_direction_error(held[12], pose) - 3
    assert max(bone_direction_error(eased[f], pose) for f in range(30, 41)) < 3

    # Saved and opened again, the key keeps its hold and ease.
    window.save_to(tmp_path / "held.keymask.json")
    again = load_project(tmp_path / "held.keymask.json").keys[0]
    assert (again.hold, again.ease) == pytest.approx((0.5, 1.5))

    # Undo takes back the ease, then the hold, each with its re-solved motion.
    press_on_timeline(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.timeline.key_timing == [(10, 15)]
    np.testing.assert_array_equal(window.project.motion, held)
    press_on_timeline(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.project.keys[0].hold == 0 and window.timeline.key_timing == [(0, 15)]
    np.testing.assert_array_equal(window.project.motion, keyed)


def test_a_project_key_keeps_its_hold_and_ease_and_older_files_get_the_defaults(tmp_path):
    from keymask.studio.project import ProjectFileError, project_from_json, project_to_json
    from keymask.studio.project import KeyPose
    from keymask.conditioning.poses import KeyPose3D

    key = KeyPose(time=1.5, pose3d=KeyPose3D(joints=canonical_pose(waving_walk(2)[0])), hold=0.3, ease=0.5)
    document = project_to_json(Project(keys=[key]))
    assert (document["keys"][0]["hold"], document["keys"][0]["ease"]) == (0.3, 0.5)
    read = project_from_json(document).keys[0]
    assert (read.hold, read.ease, read.hold_frames(), read.ease_frames()) == (0.3, 0.5, 6, 10)
    for name in ("hold", "ease"):  # a file written before keys had them: no hold, the 0.75 s ease
        del document["keys"][0][name]
    read = project_from_json(document).keys[0]
    assert (read.hold, read.ease, read.ease_frames()) == (0.0, 0.75, 15)
    document["keys"][0]["hold"] = -1
    with pytest.raises(ProjectFileError, match=r"^Project file <data> \(key 1\) has a negative hold or ease"):
        project_from_json(document)
