"""Studio projects without a window: JSON round trip, broken files, recovery files, and undo/redo of
every edit command on a bare Project."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PyQt6.QtGui import QUndoStack

from keymask.conditioning.poses import KeyPose3D, Pose2D
from keymask.studio import commands
from keymask.studio.project import (
    ExportSettings,
    KeyPose,
    Project,
    ProjectFileError,
    load_project,
    project_to_json,
    read_recovery,
    recovery_is_newer,
    recovery_path,
    save_project,
    summary,
    write_recovery,
)

# A person standing, facing the camera, on a 512 x 640 canvas: (18, 2) pixels, COCO-18 order.
STANDING = np.array([
    [256, 110], [256, 170], [206, 172], [180, 250], [170, 322], [306, 172], [332, 250], [342, 322],
    [226, 330], [222, 450], [220, 570], [286, 330], [290, 450], [292, 570], [244, 98], [268, 98],
    [230, 104], [282, 104],
], dtype=np.float64)


def standing_2d() -> Pose2D:
    return Pose2D(keypoints=STANDING, confidence=np.ones(18), canvas=(512, 640))


def simple_lift(pose: Pose2D) -> KeyPose3D:
    """A stand-in lifter: the 22 joints follow the 2D keypoints (pelvis at the origin, metres)."""
    rows = np.concatenate([pose.keypoints, pose.keypoints[:4]])  # (22, 2)
    joints = np.zeros((22, 3))
    joints[:, 0] = (rows[:, 0] - rows[0, 0]) / 500
    joints[:, 1] = -(rows[:, 1] - rows[0, 1]) / 500
    joints[0] = 0.0
    return KeyPose3D(joints=joints, source={"lifter": "test"})


def key_at(time_s: float, constrain: str = "body", name: str = "") -> KeyPose:
    pose2d = standing_2d()
    return KeyPose(time=time_s, pose3d=simple_lift(pose2d), pose2d=pose2d, constrain=constrain, name=name)


def full_project() -> Project:
    rng = np.random.default_rng(0)
    pose3d = KeyPose3D(joints=simple_lift(standing_2d()).joints, root_position=np.array([0.5, 0.9, 1.0]),
                       facing=0.75, source={"file": "crouch.json"})
    return Project(
        prompt="a person jumps over a puddle", seconds=4.5, seed=123, samples=3, guidance=3.5, steps=12,
        exemplar_share=0.5,
        keys=[key_at(1.0, name="take-off"), KeyPose(time=2.25, pose3d=pose3d, constrain="root", name="landing")],
        keep_spans=[(0.0, 1.5), (3.0, 4.0)],
        motions=[rng.normal(size=(80, 22, 3)).astype(np.float32) for _ in range(3)],
        chosen_sample=2,
        export=ExportSettings(fps=30, units="cm", rotation_order="XYZ", rig="/clips/walk_mixamo.bvh", use_rig=True),
    )


# ---- files ---------------------------------------------------------------------------------------

def test_a_project_survives_a_save_and_load(tmp_path):
    project = full_project()
    path = save_project(tmp_path / "jump.keymask.json", project)
    loaded = load_project(path)
    assert project_to_json(loaded) == project_to_json(project)
    assert loaded.seconds == 4.5 and loaded.seed == 123 and loaded.samples == 3 and loaded.chosen_sample == 2
    assert loaded.exemplar_share == 0.5
    assert loaded.export == ExportSettings(fps=30, units="cm", rotation_order="XYZ", rig="/clips/walk_mixamo.bvh",
                                           use_rig=True)
    for a, b in zip(loaded.motions, project.motions):
        assert a.dtype == np.float32 and np.array_equal(a, b)  # motions are stored exactly
    np.testing.assert_allclose(loaded.keys[0].pose2d.keypoints, STANDING)
    assert loaded.keys[1].pose2d is None and loaded.keys[1].constrain == "root"
    assert loaded.keys[1].pose3d.facing == pytest.approx(0.75)
    np.testing.assert_allclose(loaded.keys[1].pose3d.root_position, [0.5, 0.9, 1.0])
    assert loaded.keys[1].pose3d.source == {"file": "crouch.json"}
    assert [k.name for k in loaded.keys] == ["take-off", "landing"]
    assert loaded.motion is loaded.motions[2]


def test_an_estimated_length_and_an_empty_project_round_trip(tmp_path):
    project = Project(prompt="a person waves", seconds=None)
    loaded = load_project(save_project(tmp_path / "p.json", project))
    assert loaded.seconds is None and loaded.motion is None and loaded.keys == []
    assert project_to_json(loaded) == project_to_json(project)


def test_the_file_names_its_format_and_version(tmp_path):
    data = json.loads(save_project(tmp_path / "p.json", Project()).read_text())
    assert data["format"] == "keymask-studio-project" and data["version"] == 1


def _document(**changes) -> dict:
    data = project_to_json(full_project())
    data.update(changes)
    return data


BROKEN = {
    "not json": ("{\"format\": ", "is not valid JSON"),
    "empty": ("", "is empty"),
    "a list": ("[]", "is not a KeyMask Studio project"),
    "another format": (json.dumps({"format": "keymask-keypose-3d", "version": 1}), "is not a KeyMask Studio project"),
    "a newer version": (json.dumps(_document(version=2)), "has version 2; this studio reads version 1"),
    "a seed of text": (json.dumps(_document(seed="seven")), "\"seed\" of \"seven\", which is not a whole number"),
    "no samples": (json.dumps(_document(samples=0)), "\"samples\" of 0; it must be at least 1"),
    "a negative guidance": (json.dumps(_document(guidance=-1)), "\"guidance\" of -1; it must be at least 0"),
    "a clip share above 1": (json.dumps(_document(exemplar_share=2)), "\"exemplar_share\" of 2; it must be at most 1"),
    "a negative length": (json.dumps(_document(seconds=-2)), "length of -2.0 seconds"),
    "a bad span": (json.dumps(_document(keep_spans=[[2, 1]])), "keep span [2, 1]"),
    "a missing sample": (json.dumps(_document(chosen_sample=5)), "chooses sample 6 of only 3 motions"),
    "centimetre export": (json.dumps(_document(export={"units": "inch"})), "exports in \"inch\""),
    "a rig flag of text": (json.dumps(_document(export={"use_rig": "yes"})), "\"use_rig\" of \"yes\", which is not true or false"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_file_is_refused_in_one_sentence_naming_it(tmp_path, case):
    text, expected = BROKEN[case]
    path = tmp_path / "broken.keymask.json"
    path.write_text(text)
    with pytest.raises(ProjectFileError) as error:
        load_project(path)
    message = str(error.value)
    assert str(path) in message and expected in message
    assert "\n" not in message and message.endswith(".")


def test_broken_keys_and_motions_name_their_place(tmp_path):
    for change, expected in ((lambda d: d["keys"][1].update(constrain="hands"), "(key 2) constrains \"hands\""),
                             (lambda d: d["keys"][0]["pose3d"].update(units="cm"), "(key 1) gives units \"cm\""),
                             (lambda d: d["motions"][0].update(shape=[80, 21, 3]), "(motion 1) has the shape"),
                             (lambda d: d["motions"][1].update(base64="AAAA"), "(motion 2) holds 3 bytes")):
        data = _document()
        change(data)
        path = tmp_path / "p.json"
        path.write_text(json.dumps(data))
        with pytest.raises(ProjectFileError, match=r"Project file .*p\.json") as error:
            load_project(path)
        assert expected in str(error.value)


def test_missing_files_and_folders_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(ProjectFileError, match="does not exist"):
        load_project(tmp_path / "nowhere.json")
    with pytest.raises(ProjectFileError, match="is a folder"):
        load_project(tmp_path)


# ---- recovery ------------------------------------------------------------------------------------

def test_a_recovery_file_gives_back_the_project_and_where_it_belongs(tmp_path):
    project = full_project()
    target = tmp_path / "jump.keymask.json"
    recovery = recovery_path(target, folder=tmp_path / "recovery")
    write_recovery(recovery, project, target)
    recovered, belongs = read_recovery(recovery)
    assert project_to_json(recovered) == project_to_json(project)
    assert belongs == target.resolve()
    untitled = recovery_path(None, folder=tmp_path / "recovery")
    write_recovery(untitled, Project(prompt="x"), None)
    assert read_recovery(untitled)[1] is None and untitled != recovery


def test_recovery_paths_differ_per_project_and_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYMASK_STUDIO_RECOVERY_DIR", str(tmp_path))
    a, b = recovery_path(tmp_path / "a" / "walk.json"), recovery_path(tmp_path / "b" / "walk.json")
    assert a != b and a.parent == b.parent == tmp_path


def test_a_recovery_file_is_offered_only_when_newer_than_the_project(tmp_path):
    target, recovery = tmp_path / "p.json", tmp_path / "p.recovery.json"
    assert not recovery_is_newer(recovery, target)  # no recovery file
    write_recovery(recovery, Project(), target)
    assert recovery_is_newer(recovery, target)  # the project was never saved
    save_project(target, Project())
    past = time.time() - 60
    os.utime(recovery, (past, past))
    assert not recovery_is_newer(recovery, target)
    os.utime(recovery, None)
    assert recovery_is_newer(recovery, target)


# ---- commands ------------------------------------------------------------------------------------

@pytest.fixture
def stack():
    return QUndoStack()


def check_undo_redo(stack: QUndoStack, project: Project, command) -> tuple[dict, dict]:
    """Push `command`; undo must give back the project as it was, redo the project as it became."""
    before = project_to_json(project)
    stack.push(command)
    after = project_to_json(project)
    assert after != before
    stack.undo()
    assert project_to_json(project) == before
    stack.redo()
    assert project_to_json(project) == after
    return before, after


@pytest.mark.parametrize("name, value", [("prompt", "a person waves"), ("seconds", 3.0), ("seconds", None),
                                         ("seed", 42), ("samples", 4), ("guidance", 2.5), ("steps", 20),
                                         ("exemplar_share", 0.25),
                                         ("export", ExportSettings(fps=60, units="cm"))])
def test_every_setting_is_undone_and_redone(stack, name, value):
    project = full_project()
    seen = []
    check_undo_redo(stack, project, commands.SetField(project, name, value, notify=seen.append))
    assert getattr(project, name) == value
    assert set(seen) == {"export" if name == "export" else "settings"}


def test_consecutive_prompt_edits_are_one_undo_step(stack):
    project = Project(prompt="")
    for text in ("a", "a p", "a person", "a person runs"):
        stack.push(commands.SetField(project, "prompt", text))
    assert stack.count() == 1 and project.prompt == "a person runs"
    stack.push(commands.SetField(project, "seed", 3))  # another field: a new step
    stack.push(commands.SetField(project, "prompt", "a person walks"))
    assert stack.count() == 3
    stack.undo()
    assert project.prompt == "a person runs"
    stack.undo()
    stack.undo()
    assert project.prompt == "" and project.seed == 0


def test_typing_back_to_the_original_text_leaves_nothing_to_undo(stack):
    project = Project(prompt="walk")
    stack.push(commands.SetField(project, "prompt", "walks"))
    stack.push(commands.SetField(project, "prompt", "walk"))
    assert stack.count() == 0 and project.prompt == "walk"


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match="cannot set 'keys'"):
        commands.SetField(Project(), "keys", [])


def test_adding_moving_and_deleting_key_poses(stack):
    project = Project()
    seen = []
    check_undo_redo(stack, project, commands.AddKey(project, key_at(1.0), notify=seen.append))
    check_undo_redo(stack, project, commands.AddKey(project, key_at(2.0, name="second")))
    check_undo_redo(stack, project, commands.MoveKey(project, 0, 1.5))
    assert [k.time for k in project.keys] == [1.5, 2.0]
    check_undo_redo(stack, project, commands.SetConstraint(project, 1, "root"))
    check_undo_redo(stack, project, commands.DeleteKey(project, 0))
    assert [k.name for k in project.keys] == ["second"] and project.keys[0].constrain == "root"
    while stack.canUndo():
        stack.undo()
    assert project.keys == [] and set(seen) == {"keys"}


def test_dragging_a_joint_relifts_the_key_and_undo_restores_both_poses(stack):
    project = Project(keys=[key_at(1.0)])
    old = project.keys[0]
    command = commands.MoveJoint(project, 0, 4, (120.0, 60.0), lift=simple_lift)  # right wrist up
    assert command.text() == "Move right wrist"
    check_undo_redo(stack, project, command)
    moved = project.keys[0]
    np.testing.assert_allclose(moved.pose2d.keypoints[4], [120.0, 60.0])
    np.testing.assert_allclose(moved.pose2d.keypoints[:4], STANDING[:4])
    assert not np.allclose(moved.pose3d.joints, old.pose3d.joints)
    np.testing.assert_allclose(moved.pose3d.joints, simple_lift(moved.pose2d).joints)
    stack.undo()
    assert project.keys[0] is old


def test_a_joint_of_a_3d_only_key_moves_on_the_drawn_base_pose(stack):
    project = Project(keys=[KeyPose(time=0.5, pose3d=simple_lift(standing_2d()))])
    with pytest.raises(ValueError, match="no 2D pose"):
        commands.MoveJoint(project, 0, 4, (1.0, 2.0), lift=simple_lift)
    check_undo_redo(stack, project, commands.MoveJoint(project, 0, 4, (120.0, 60.0), base=standing_2d(),
                                                       lift=simple_lift))
    assert project.keys[0].pose2d is not None


def test_a_2d_pose_for_a_3d_key_keeps_where_it_stands_and_faces(stack):
    placed = KeyPose3D(joints=simple_lift(standing_2d()).joints, root_position=np.array([1.0, 0.9, 2.0]), facing=0.5)
    project = Project(keys=[KeyPose(time=0.5, pose3d=placed, constrain="root")])
    check_undo_redo(stack, project, commands.MoveJoint(project, 0, 4, (120.0, 60.0), base=standing_2d(),
                                                       lift=simple_lift))
    pose3d = project.keys[0].pose3d
    np.testing.assert_allclose(pose3d.joints, simple_lift(project.keys[0].pose2d).joints)  # the drawing's body pose
    np.testing.assert_allclose(pose3d.root_position, [1.0, 0.9, 2.0])
    assert pose3d.facing == 0.5 and project.keys[0].constrain == "root"


def test_a_missing_joint_becomes_present_when_placed(stack):
    pose = standing_2d()
    pose.confidence[14] = 0.0
    project = Project(keys=[KeyPose(time=0.0, pose3d=simple_lift(pose), pose2d=pose)])
    stack.push(commands.MoveJoint(project, 0, 14, (240.0, 90.0), lift=simple_lift))
    assert project.keys[0].pose2d.present[14]


def test_mirroring_loading_and_3d_poses_are_undone(stack):
    project = Project(keys=[key_at(1.0)])
    mirrored = Pose2D(keypoints=np.column_stack([512 - STANDING[:, 0], STANDING[:, 1]]), confidence=np.ones(18),
                      canvas=(512, 640))
    check_undo_redo(stack, project, commands.EditPose(project, 0, mirrored, "Mirror pose", lift=simple_lift))
    assert stack.undoText() == "Mirror pose"
    pose3d = KeyPose3D(joints=simple_lift(standing_2d()).joints * 0.5)
    check_undo_redo(stack, project, commands.SetPose3D(project, 0, pose3d))
    assert project.keys[0].pose2d is None


def test_a_pose_that_cannot_be_lifted_changes_nothing(stack):
    project = Project(keys=[key_at(1.0)])
    before = project_to_json(project)

    def refuse(pose):
        raise ValueError("The 2D pose has 3 of the 14 body joints.")

    with pytest.raises(ValueError, match="3 of the 14"):
        stack.push(commands.EditPose(project, 0, standing_2d(), "Load pose", lift=refuse))
    assert stack.count() == 0 and project_to_json(project) == before


def test_keep_spans_samples_and_generated_motions_are_undone(stack):
    project = full_project()
    seen = []
    check_undo_redo(stack, project, commands.SetKeepSpans(project, [(0.5, 2.0)], notify=seen.append))
    check_undo_redo(stack, project, commands.ChooseSample(project, 0, notify=seen.append))
    new = [np.zeros((40, 22, 3), dtype=np.float32)]
    check_undo_redo(stack, project, commands.SetMotions(project, new, notify=seen.append))
    assert project.chosen_sample == 0 and len(project.motions) == 1
    stack.undo()
    assert len(project.motions) == 3 and project.chosen_sample == 0
    stack.undo()
    assert project.chosen_sample == 2
    assert seen[:3] == ["spans", "spans", "spans"] and "sample" in seen and "motions" in seen


def test_importing_the_studio_does_not_import_torch():
    code = ("import sys, keymask.studio.app, keymask.studio.main_window, keymask.studio.screenshots, "
            "keymask.cli.studio; print([m for m in ('torch', 'scipy', 'diffusers') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_the_summary_says_prompt_keys_length_and_motions():
    key = KeyPose(time=1.0, pose3d=KeyPose3D(joints=np.zeros((22, 3))))
    assert summary(Project()) == "no prompt, 0 key poses, length from the text, not generated yet"
    assert summary(Project(prompt="a person bows", seconds=3.5, keys=[key])) == (
        '"a person bows", 1 key pose, 3.5 s, not generated yet')
    made = Project(prompt="x" * 80, seconds=4.0, keys=[key, key], motions=[np.zeros((50, 22, 3), np.float32)] * 2)
    assert summary(made) == f'"{"x" * 57}...", 2 key poses, 2.5 s, 2 generated motions'  # the motion's own length
