"""Training: resumable bit for bit, logs, and data-parallel ranks that agree (tiny models, real data)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from keymask.core.models.rvq_vae import RVQVAE, RVQVAEConfig
from keymask.core.training.data import FeatureWindows
from keymask.core.training.train_rvq_vae import RVQTrainingConfig, reconstruction_mpjpe, train_rvq_vae

TINY = RVQVAEConfig(nb_code=16, code_dim=8, width=16, depth=1, num_quantizers=2)


def _config(dataset, out, **overrides) -> RVQTrainingConfig:
    values = dict(dataset_dir=str(dataset), output_dir=str(out), model=TINY, iterations=6, batch_size=8, window=16,
                  warmup=2, log_every=2, checkpoint_every=3, lr=1e-3)
    return RVQTrainingConfig(**{**values, **overrides})


def test_windows_cover_every_start_of_every_long_enough_clip(small_dataset):
    options, _ = small_dataset
    windows = FeatureWindows(options.output_dir, "train", window=16)
    assert len(windows) == sum(len(c) - 15 for c in windows.clips)
    assert windows[0].shape == (16, 263) and windows[len(windows) - 1].shape == (16, 263)
    torch.testing.assert_close(windows[len(windows) - 1], torch.from_numpy(windows.clips[-1][-16:]))


def test_an_interrupted_run_continues_bit_for_bit(small_dataset, tmp_path):
    dataset = small_dataset[0].output_dir
    straight = train_rvq_vae(_config(dataset, tmp_path / "straight"), progress=False)
    train_rvq_vae(_config(dataset, tmp_path / "resumed"), progress=False, stop_at_step=4)
    assert (tmp_path / "resumed" / "training_state.pt").exists()
    resumed = train_rvq_vae(_config(dataset, tmp_path / "resumed"), progress=False)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    log = (tmp_path / "resumed" / "rvq_vae.csv").read_text().splitlines()
    assert log[0].startswith("step,loss") and [line.split(",")[0] for line in log[1:]] == ["2", "4", "6"]
    assert (tmp_path / "resumed" / "rvq_vae.png").stat().st_size > 0
    again = RVQVAE.from_pretrained(tmp_path / "resumed" / "rvq_vae")
    assert 0 < reconstruction_mpjpe(again, dataset, "train") < 10.0


def test_resuming_with_other_settings_is_refused(small_dataset, tmp_path):
    from keymask.core.models.official.options import CheckpointError

    dataset = small_dataset[0].output_dir
    train_rvq_vae(_config(dataset, tmp_path / "run"), progress=False, stop_at_step=2)
    with pytest.raises(CheckpointError, match="lr"):
        train_rvq_vae(_config(dataset, tmp_path / "run", lr=5e-4), progress=False)


WORKER = """
import sys, torch
from keymask.core.models.rvq_vae import RVQVAEConfig
from keymask.core.training.train_rvq_vae import RVQTrainingConfig, train_rvq_vae
import os
torch.set_num_threads(1)
config = RVQTrainingConfig(dataset_dir=sys.argv[1], output_dir=sys.argv[2], iterations=4, batch_size=4, window=16,
                           warmup=1, log_every=2, checkpoint_every=4,
                           model=RVQVAEConfig(nb_code=16, code_dim=8, width=16, depth=1, num_quantizers=2))
model = train_rvq_vae(config, progress=False)
torch.save(model.state_dict(), f"{sys.argv[2]}/rank{os.environ['RANK']}.pt")
"""


@pytest.mark.slow
def test_two_cpu_processes_end_with_identical_weights(small_dataset, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(script),
                             str(small_dataset[0].output_dir), str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    first, second = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    initial = RVQVAE(RVQVAEConfig(nb_code=16, code_dim=8, width=16, depth=1, num_quantizers=2)).state_dict()
    assert any(not torch.equal(first[k], initial[k]) for k in first)  # it trained
    for name in first:
        assert torch.equal(first[name], second[name]), name
