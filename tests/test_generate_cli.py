"""`keymask generate` / `keymask edit` with tiny random official-format models, and their bad input."""

import shutil

import numpy as np
import pytest

from keymask.cli.main import main
from keymask.core.bvh.convert import bvh_file_to_joints
from keymask.core.bvh.reader import read_bvh

MM = 1e-3


@pytest.fixture(scope="module")
def model_args(official_model_dir, tiny_clip_512):
    return ["--model", str(official_model_dir), "--clip-weights", str(tiny_clip_512)]


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_generate_writes_bvh_and_joints_and_repeats_with_the_seed(model_args, tmp_path, capsys):
    out = tmp_path / "jump.bvh"
    code, stdout, _ = run(["generate", "a person jumps over a puddle", "--seconds", "2", "--seed", "3",
                           "-o", str(out), *model_args], capsys)
    assert code == 0 and "seed: 3" in stdout
    joints = np.load(tmp_path / "jump.npy")
    assert joints.shape == (40, 22, 3)
    assert np.abs(bvh_file_to_joints(out) - joints).max() < 1 * MM
    run(["generate", "a person jumps over a puddle", "--seconds", "2", "--seed", "3", "-o", str(tmp_path / "again.bvh"),
         *model_args], capsys)
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), joints)


def test_samples_prompt_files_and_preview(model_args, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# two prompts, the second with its own length\na person waves#40\n\nsomeone bows#NA\n".replace("#NA", "#32"))
    code, stdout, _ = run(["generate", "--prompts", str(prompts), "--samples", "2", "-o", str(tmp_path / "m.bvh"),
                           "--preview", "--units", "cm", "--sheet", str(tmp_path / "sheet.png"), *model_args], capsys)
    assert code == 0
    bvhs = sorted(p.name for p in tmp_path.glob("m_*.bvh"))
    assert bvhs == ["m_00.bvh", "m_01.bvh", "m_02.bvh", "m_03.bvh"]
    assert read_bvh(tmp_path / "m_02.bvh").n_frames == 32 and (tmp_path / "m.gif").stat().st_size > 0
    from PIL import Image

    with Image.open(tmp_path / "sheet.png") as sheet:  # one row per motion
        assert sheet.size == (8 * 150, 4 * (150 + 18)) and "contact sheet" in stdout


def test_long_motion_from_the_cli(model_args, tmp_path, capsys):
    code, _, _ = run(["generate", "a person walks in a circle", "--seconds", "15", "--seed", "1",
                      "-o", str(tmp_path / "long.bvh"), *model_args], capsys)
    assert code == 0 and np.load(tmp_path / "long.npy").shape == (300, 22, 3)


def test_edit_keeps_frames_of_a_bvh(model_args, tmp_path, capsys, bandai_clip):
    source = bandai_clip("dataset-1_walk_normal_001.bvh")
    code, stdout, _ = run(["edit", str(source), "a person jumps", "--keep", "0-1.5s,4-5s", "--seed", "2",
                           "-o", str(tmp_path / "edited.bvh"), *model_args], capsys)
    assert code == 0 and "frames kept" in stdout
    edited, original = np.load(tmp_path / "edited.npy"), bvh_file_to_joints(source)
    assert np.abs(edited[:30] - original[:30]).max() < 1 * MM
    assert np.abs(edited[80:100] - original[80:100]).max() < 1 * MM


@pytest.mark.parametrize("argv, message", [
    (["generate", "   "], "empty"),
    (["generate", ""], "empty"),
    (["generate", "a person walks", "--seconds", "0"], "at least"),
    (["generate", "a person walks", "--seconds", "-3"], "at least"),
    (["generate", "a person walks", "--frames", "2"], "at least"),
    (["generate", "a person walks", "--samples", "0"], "--samples"),
    (["generate", "a person walks", "--temperature", "-1"], "--temperature must be 0 or more"),
    (["generate", "a person walks", "--residual-temperature", "nan"], "--residual-temperature must be 0 or more"),
    (["generate", "a person walks", "--topk", "1"], "--topk keeps the top"),
    (["generate", "a person walks", "--steps", "0"], "--steps must be at least 1"),
    (["generate", "a person walks", "--exemplar-share", "1.5"], "--exemplar-share is a share of token positions"),
    (["generate"], "one prompt"),
    (["edit", "missing.bvh", "jump", "--keep", "0-1s"], "does not exist"),  # exit 1: a run-time failure
    (["edit", "IN", "jump", "--keep", "5-1s"], "ends before it starts"),
    (["edit", "IN", "jump", "--keep", "40-50s"], "after the motion's end"),
])
def test_bad_input_is_one_sentence_and_writes_nothing(model_args, tmp_path, capsys, bandai_clip, argv, message):
    argv = [str(bandai_clip("dataset-1_walk_normal_001.bvh")) if a == "IN" else a for a in argv]
    code, _, err = run([*argv, "-o", str(tmp_path / "out.bvh"), *model_args], capsys)
    assert code == (1 if message == "does not exist" else 2) and message in err and "Traceback" not in err
    assert not list(tmp_path.glob("out*"))


def test_very_long_and_non_english_prompts_still_generate(model_args, tmp_path, capsys):
    code, _, err = run(["generate", "walk " * 2500, "--seconds", "1", "-o", str(tmp_path / "a.bvh"), *model_args], capsys)
    assert code == 0
    assert err.count("keymask: warning: Prompt 1 has 12499 characters; only the first 1000 are used.") == 1
    assert "UserWarning" not in err and ".py:" not in err
    code, _, _ = run(["generate", "人が歩く", "--seconds", "1", "-o", str(tmp_path / "b.bvh"), *model_args], capsys)
    assert code == 0


def test_unwritable_output_fails_before_generating(model_args, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    code, _, err = run(["generate", "a person walks", "--seconds", "1", "-o", str(tmp_path / "file" / "x.bvh"),
                        *model_args], capsys)
    assert code == 1 and "not a folder" in err


def test_corrupt_and_mismatched_checkpoints_are_named(parity_dir, model_args, tmp_path, capsys):
    broken = tmp_path / "t2m"
    shutil.copytree(parity_dir / "checkpoints" / "t2m", broken)
    latest = broken / "mtrans_A" / "model" / "latest.tar"
    latest.write_bytes(latest.read_bytes()[:5000])
    argv = ["generate", "a person walks", "--seconds", "1", "-o", str(tmp_path / "o.bvh"), "--model",
            str(broken / "mtrans_A"), "--clip-weights", model_args[-1]]
    code, _, err = run(argv, capsys)
    assert code == 1 and "latest.tar" in err and "cannot be read" in err
    shutil.copy(broken / "rtrans_A" / "model" / "net_best_fid.tar", latest)  # a residual model in the masked slot
    code, _, err = run(argv, capsys)
    assert code == 1 and "latest.tar" in err
    code, _, err = run(["generate", "a person walks", "-o", str(tmp_path / "o.bvh"), "--model", str(tmp_path / "none")],
                       capsys)
    assert code == 1 and "does not exist" in err
    assert not list(tmp_path.glob("o*"))


@pytest.mark.parametrize("command", [["generate", "a person walks"], ["convert", "in.npy"]])
def test_a_wrong_rotation_order_is_refused_before_any_work(command, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--order", "QXY", "-o", str(tmp_path / "out.bvh")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "'QXY' is not a rotation order" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a checkpoint" * 10, b"", b"hello, I am text\n"])
def test_a_corrupt_clip_weights_file_is_one_sentence(official_model_dir, tmp_path, capsys, content):
    corrupt = tmp_path / "ViT-B-32.pt"
    corrupt.write_bytes(content)
    code, _, err = run(["generate", "a person walks", "--model", str(official_model_dir), "--clip-weights",
                        str(corrupt), "-o", str(tmp_path / "out.bvh")], capsys)
    assert code == 1 and "cannot be read as a CLIP model" in err and "Traceback" not in err
    assert not list(tmp_path.glob("out*"))


def test_a_prompt_file_is_shared_between_torchrun_processes_and_resumes(tmp_path):
    import os
    import subprocess
    import sys

    prompts = tmp_path / "prompts.txt"
    lines = [f"a person walks forward#{20 + 4 * i}" for i in range(34)] + ["a person bows#24", "a man waves#28"]
    prompts.write_text("\n".join(lines) + "\n")  # 36 prompts: two chunks of 32 and 4
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = ["-m", "keymask.cli.main", "generate", "--prompts", str(prompts), "--seed", "5",
               "-o", str(tmp_path / "out" / "m.bvh")]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    shared = subprocess.run([*torchrun, *command], capture_output=True, text=True, env=env, timeout=600)
    assert shared.returncode == 0, shared.stderr[-2000:]
    written = sorted((tmp_path / "out").glob("m_*.bvh"))
    assert len(written) == 36 and len(list((tmp_path / "out").glob("m_*.npy"))) == 36
    # One process makes the same motions: each chunk's seed does not depend on who makes it.
    alone = subprocess.run([sys.executable, *command, "-o", str(tmp_path / "alone" / "m.bvh")], capture_output=True,
                           text=True, env=env, timeout=600)
    assert alone.returncode == 0, alone.stderr[-2000:]
    assert "chunk 2 of 2 written" in alone.stderr  # progress in a log, where no bar is drawn
    for path in written:
        np.testing.assert_array_equal(np.load(path.with_suffix(".npy")),
                                      np.load(tmp_path / "alone" / path.with_suffix(".npy").name))
    # Resume: only the chunk with a missing file is made again.
    (tmp_path / "out" / "m_34.npy").unlink()
    before = {p: p.stat().st_mtime_ns for p in written}
    resumed = subprocess.run([*torchrun, *command, "--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (tmp_path / "out" / "m_34.npy").exists()
    changed = {p.name for p in written if p.stat().st_mtime_ns != before[p]}
    assert changed == {f"m_{i:02d}.bvh" for i in range(32, 36)}
