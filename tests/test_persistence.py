"""Models save and load themselves (config.json + safetensors); the official length estimator loads too."""

import json
import shutil

import pytest
import torch

from keymask.core.models.bundle import load_torch_models
from keymask.core.models.length_estimator import LengthEstimator, LengthEstimatorConfig
from keymask.core.models.official.options import CheckpointError


@pytest.fixture
def estimator():
    torch.manual_seed(0)
    return LengthEstimator(LengthEstimatorConfig(text_dim=8, n_classes=12, hidden_dim=16)).eval()


def test_round_trip_gives_identical_outputs(estimator, tmp_path):
    estimator.save_pretrained(tmp_path / "le")
    again = LengthEstimator.from_pretrained(tmp_path / "le")
    text = torch.randn(3, 8)
    torch.testing.assert_close(again(text), estimator(text), rtol=0, atol=0)
    assert again.config == estimator.config


def test_wrong_kind_corrupt_and_missing_files_are_named(estimator, tmp_path):
    folder = estimator.save_pretrained(tmp_path / "le")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "kind": "rvq_vae"}))
    with pytest.raises(CheckpointError, match="not a 'length_estimator'"):
        LengthEstimator.from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(config))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        LengthEstimator.from_pretrained(folder)
    weights.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        LengthEstimator.from_pretrained(folder)


def test_mismatched_config_names_the_weight(estimator, tmp_path):
    folder = estimator.save_pretrained(tmp_path / "le")
    config = json.loads((folder / "config.json").read_text())
    config["config"]["n_classes"] = 20
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="output.11"):
        LengthEstimator.from_pretrained(folder)


def test_official_length_estimator_is_found_beside_the_checkpoints(official_model_dir, tmp_path, tiny_clip_512):
    from keymask.core.generation.pipeline import MotionPipeline

    dataset = tmp_path / "t2m"
    shutil.copytree(official_model_dir.parent, dataset)
    torch.manual_seed(1)
    official = LengthEstimator(LengthEstimatorConfig(text_dim=512, n_classes=50))  # the official 512 -> 50 MLP
    (dataset / "length_estimator" / "model").mkdir(parents=True)
    torch.save({"estimator": official.state_dict(), "epoch": 3}, dataset / "length_estimator" / "model" / "finest.tar")
    models = load_torch_models(dataset / "mtrans_A")
    assert models.length_estimator is not None
    text = torch.randn(2, 512)
    torch.testing.assert_close(models.length_estimator.model(text), official.eval()(text))
    pipeline = MotionPipeline.from_folder(dataset, clip_weights=tiny_clip_512)  # the dataset folder works too
    motion = pipeline(["a person walks"], seed=0).motions[0]
    assert len(motion.joints) % 4 == 0 and len(motion.joints) >= 4


def test_mapped_safetensors_equal_the_library_and_refuse_truncated_files(tmp_path):
    import numpy as np
    from safetensors.numpy import load_file, save_file

    from keymask.core.models.saved import map_safetensors

    arrays = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "h": np.ones(5, np.float16),
              "i": np.array([3, -1], np.int64), "empty": np.zeros((0, 4), np.float32)}
    path = tmp_path / "m.safetensors"
    save_file(arrays, str(path))
    mapped, reference = map_safetensors(path), load_file(str(path))
    assert set(mapped) == set(reference)
    for name, array in reference.items():
        assert mapped[name].dtype == array.dtype and mapped[name].shape == array.shape
        np.testing.assert_array_equal(mapped[name], array)
    assert not mapped["w"].flags.writeable  # read-only views of the file
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(CheckpointError, match="cannot be read"):
        map_safetensors(path)
    (tmp_path / "text.safetensors").write_text("hello, I am text")
    with pytest.raises(CheckpointError, match="cannot be read"):
        map_safetensors(tmp_path / "text.safetensors")
    with pytest.raises(CheckpointError, match="does not exist"):
        map_safetensors(tmp_path / "none.safetensors")


def _mapped_file_kib() -> int:
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(fields["RssFile"].split()[0])


def test_released_pages_leave_memory_and_come_back_unchanged(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    from keymask.core.models.saved import map_safetensors, release_mapped_pages

    weights = np.random.default_rng(0).standard_normal((4096, 1024)).astype(np.float32)  # 16 MiB
    save_file({"w": weights, "b": np.ones(3, np.float32)}, str(tmp_path / "big.safetensors"))
    mapped = map_safetensors(tmp_path / "big.safetensors")
    touched = float(mapped["w"].sum())
    before = _mapped_file_kib()
    release_mapped_pages(mapped)
    assert before - _mapped_file_kib() > 12 * 1024  # the 16 MiB read above are no longer the process's
    assert float(mapped["w"].sum()) == touched  # and read again from the file when used
    np.testing.assert_array_equal(mapped["w"], weights)
