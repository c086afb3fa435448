"""The model that ships: present, small, documented, and used when no --model is given."""

from pathlib import Path

import numpy as np

from keymask.resources import RESOURCES_DIR

DEFAULT = RESOURCES_DIR / "models" / "default"
EVALUATOR = RESOURCES_DIR / "models" / "evaluator"


def test_shipped_weights_are_safetensors_under_60_mb():
    files = [p for p in (RESOURCES_DIR / "models").rglob("*") if p.is_file()]
    weights = [p for p in files if p.suffix == ".safetensors"]
    assert len(weights) >= 5  # RVQ-VAE, two transformers, length estimator, evaluator
    assert not [p for p in files if p.suffix in (".pt", ".tar", ".pth", ".ckpt")]
    assert sum(p.stat().st_size for p in files) < 60 * 1024 * 1024


def test_model_card_states_licence_citation_metrics_and_retraining():
    card = (DEFAULT / "README.md").read_text()
    for needed in ("CC BY-NC 4.0", "arXiv:2306.08861", "MoMask", "FID", "R-precision", "MPJPE",
                   "CC BY-SA 3.0", "HDM05", "mocap.cs.cmu.edu", "NSF EIA-0196217",
                   "keymask train rvq-vae", "keymask train assemble", "keymask eval", "bench/text.py"):
        assert needed in card, needed


def test_generate_without_model_uses_the_shipped_default(tmp_path, capsys, monkeypatch):
    from keymask.cli.main import main
    from keymask.core.bvh.reader import read_bvh

    monkeypatch.delenv("KEYMASK_MODEL", raising=False)
    assert main(["generate", "a person waves with the right hand", "--seed", "0", "-o", str(tmp_path / "w.bvh")]) == 0
    motion = read_bvh(tmp_path / "w.bvh")
    joints = np.load(tmp_path / "w.npy")
    assert motion.n_frames == len(joints) >= 20 and joints.shape[1:] == (22, 3)
    assert np.isfinite(joints).all() and 0.5 < joints[..., 1].max() < 2.5  # a standing body's height in metres
    assert "seed: 0" in capsys.readouterr().out


def test_an_unlearned_action_is_named_in_one_sentence_and_still_generated(tmp_path, capsys, monkeypatch):
    from keymask.cli.main import main

    monkeypatch.delenv("KEYMASK_MODEL", raising=False)
    assert main(["generate", "someone does a cartwheel", "--seed", "0", "-o", str(tmp_path / "c.bvh")]) == 0
    err = capsys.readouterr().err
    assert err.count("has not learned") == 1 and "nearest known actions" in err and (tmp_path / "c.bvh").exists()
    assert main(["generate", "an old man strolls along slowly", "--seed", "0", "-o", str(tmp_path / "w.bvh")]) == 0
    assert "has not learned" not in capsys.readouterr().err
    assert main(["generate", "a vase of flowers on the windowsill", "--seed", "0", "-o", str(tmp_path / "v.bvh")]) == 0
    err = capsys.readouterr().err
    assert err.count("is unlike every caption the model was trained on") == 1 and (tmp_path / "v.bvh").exists()


def test_shipped_evaluator_loads():
    from keymask.core.metrics.evaluator import MotionTextEvaluator

    evaluator = MotionTextEvaluator.from_pretrained(EVALUATOR)
    assert evaluator.config.text_dim == 384


def test_generate_with_the_shipped_model_never_imports_torch(tmp_path):
    """The default path runs on the numpy backend: no torch import, so it starts in about a second."""
    import os
    import subprocess
    import sys

    code = ("import sys\n"
            "from keymask.cli.main import main\n"
            f"assert main(['generate', 'a person bows', '--seed', '1', '-o', {str(tmp_path / 'b.bvh')!r}]) == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    env = {k: v for k, v in os.environ.items() if k != "KEYMASK_MODEL"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    assert (tmp_path / "b.bvh").exists() and (tmp_path / "b.npy").exists()


def test_the_shipped_model_gives_the_same_motion_on_both_backends():
    from keymask.core.backends.loading import load_models
    from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
    from keymask.core.text.numpy_sentence_encoders import NumpySentenceEncoder

    text = NumpySentenceEncoder()
    pipelines = [MotionPipeline(load_models(DEFAULT, backend=backend), text) for backend in ("numpy", "torch")]
    results = [p(["a person walks forward", "someone waves with both arms"], frames=[80, 120], seed=3,
                 settings=SamplingSettings(greedy=True)) for p in pipelines]
    for a, b in zip(*(r.motions for r in results)):
        np.testing.assert_array_equal(a.tokens, b.tokens)
        np.testing.assert_allclose(a.joints, b.joints, atol=1e-4)


def test_the_default_size_preset_is_the_shipped_models_shape():
    """bench/generate.py times the preset with random weights, so it must have the shipped shapes."""
    import dataclasses
    import json

    from keymask.core.models.presets import keymask_default

    sizes = keymask_default()
    for part, preset in (("rvq_vae", sizes.vq), ("mask_transformer", sizes.mask_transformer),
                         ("residual_transformer", sizes.residual_transformer)):
        shipped = json.loads((RESOURCES_DIR / "models" / "default" / part / "config.json").read_text())["config"]
        shapes = {k: v for k, v in dataclasses.asdict(preset).items() if k in shipped and "drop" not in k}
        assert shapes == {k: shipped[k] for k in shapes}, part
