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


def test_fine_tuning_the_decoder_alone_keeps_every_token(small_dataset, tmp_path):
    from keymask.core.models.official.options import CheckpointError

    dataset = small_dataset[0].output_dir
    base = train_rvq_vae(_config(dataset, tmp_path / "base"), progress=False)
    tuned = train_rvq_vae(_config(dataset, tmp_path / "tuned", init_from=str(tmp_path / "base"), decoder_only=True,
                                  position_weight=2.0, lr=1e-2), progress=False)
    windows = torch.stack([w for w in FeatureWindows(dataset, "train", window=16)][:32])
    assert torch.equal(base.encode(windows), tuned.encode(windows))
    for part in ("encoder", "quantizer"):
        for (name, a), b in zip(getattr(base, part).state_dict().items(), getattr(tuned, part).state_dict().values()):
            assert torch.equal(a, b), name
    assert any(not torch.equal(a, b) for a, b in zip(base.decoder.parameters(), tuned.decoder.parameters()))
    with pytest.raises(CheckpointError, match="no training state"):
        train_rvq_vae(_config(dataset, tmp_path / "other", init_from=str(tmp_path / "missing")), progress=False)


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


@pytest.mark.parametrize("kind", ["mask_transformer", "residual_transformer", "length_estimator"])
def test_token_models_train_resume_and_load(small_dataset, tmp_path, kind):
    from keymask.core.models.length_estimator import LengthEstimatorConfig
    from keymask.core.models.mask_transformer import MaskTransformerConfig
    from keymask.core.models.residual_transformer import ResidualTransformerConfig
    from keymask.core.training.train_transformers import TokenTrainingConfig, train_token_model

    dataset = small_dataset[0].output_dir
    rvq = train_rvq_vae(_config(dataset, tmp_path / "rvq", iterations=2), progress=False)
    small = dict(num_tokens=16, code_dim=8, latent_dim=16, ff_size=32, n_layers=1, n_heads=2, text_dim=384, max_len=64)
    model = {"mask_transformer": MaskTransformerConfig(**small),
             "residual_transformer": ResidualTransformerConfig(**small, num_quantizers=2),
             "length_estimator": LengthEstimatorConfig(text_dim=384, n_classes=50, hidden_dim=32)}[kind]

    def config(out):
        return TokenTrainingConfig(kind=kind, dataset_dir=str(dataset), rvq_dir=str(tmp_path / "rvq" / "rvq_vae"),
                                   output_dir=str(out), model=model, iterations=4, batch_size=4, warmup=1,
                                   log_every=2, checkpoint_every=2, lr=1e-3)

    straight = train_token_model(config(tmp_path / "straight"), progress=False)
    train_token_model(config(tmp_path / "resumed"), progress=False, stop_at_step=2)
    resumed = train_token_model(config(tmp_path / "resumed"), progress=False)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    loaded = type(straight).from_pretrained(tmp_path / "resumed" / kind)
    for a, b in zip(loaded.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    rows = (tmp_path / "resumed" / f"{kind}.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss,accuracy") and len(rows) == 3
    assert rvq.config.nb_code == 16
    # A saved model folder (as shipped: <folder>/<kind>/model.safetensors, no training state) starts a
    # fine-tuning run, with text-embedding noise on.
    tuned_config = config(tmp_path / "tuned")
    tuned_config.init_from, tuned_config.iterations, tuned_config.text_noise = str(tmp_path / "resumed"), 1, 0.01
    (tmp_path / "resumed" / "training_state.pt").unlink()
    first_step = {}
    tuned = train_token_model(tuned_config, progress=False, stop_at_step=0)
    for (name, a), b in zip(tuned.state_dict().items(), resumed.state_dict().values()):
        first_step[name] = torch.equal(a, b)
    assert all(first_step.values())


def test_a_wider_feed_forward_starts_as_the_narrower_model_and_then_learns(tmp_path):
    from keymask.core.models.mask_transformer import MaskTransformer, MaskTransformerConfig
    from keymask.core.models.official.options import CheckpointError
    from keymask.core.training.state import load_weights

    small = dict(num_tokens=16, code_dim=8, latent_dim=16, n_layers=2, n_heads=2, text_dim=384, max_len=64)
    torch.manual_seed(0)
    narrow = MaskTransformer(MaskTransformerConfig(**small, ff_size=32)).eval()
    narrow.save_pretrained(tmp_path / "narrow" / "mask_transformer")
    wide = MaskTransformer(MaskTransformerConfig(**small, ff_size=48))
    load_weights(tmp_path / "narrow", wide, "mask_transformer")

    ids, text = torch.randint(0, 16, (2, 10)), torch.randn(2, 384)
    padding = torch.zeros(2, 10, dtype=torch.bool)
    with torch.no_grad():
        torch.testing.assert_close(wide.eval()(ids, text, padding), narrow(ids, text, padding), rtol=0, atol=1e-6)
    new_outputs = wide.encoder.layers[0].linear2.weight[:, 32:]
    assert torch.count_nonzero(new_outputs) == 0
    optimizer = torch.optim.SGD(wide.parameters(), lr=0.1)
    wide.train().training_loss(ids, text, torch.tensor([10, 7])).loss.backward()
    optimizer.step()
    assert torch.count_nonzero(new_outputs) > 0  # the new units take part once trained

    other_width = MaskTransformer(MaskTransformerConfig(**{**small, "latent_dim": 24}, ff_size=48))
    with pytest.raises(CheckpointError, match="shaped differently"):
        load_weights(tmp_path / "narrow", other_width, "mask_transformer")


def test_fine_tuning_takes_the_starting_models_sizes(small_dataset, tmp_path):
    from keymask.core.models.residual_transformer import ResidualTransformer, ResidualTransformerConfig
    from keymask.core.training.train_transformers import TokenTrainingConfig, starting_size, train_token_model

    dataset = small_dataset[0].output_dir
    train_rvq_vae(_config(dataset, tmp_path / "rvq", iterations=2), progress=False)
    torch.manual_seed(1)
    grown = ResidualTransformer(ResidualTransformerConfig(
        num_tokens=16, code_dim=8, latent_dim=16, ff_size=40, n_layers=1, n_heads=4, text_dim=384,
        num_quantizers=2, cond_drop_prob=0.2))
    grown.save_pretrained(tmp_path / "grown" / "residual_transformer")
    assert starting_size(str(tmp_path / "grown"), "residual_transformer") == {"latent_dim": 16, "n_layers": 1,
                                                                              "ff_size": 40}
    assert starting_size(str(tmp_path / "grown"), "mask_transformer") == {}
    assert starting_size(None, "residual_transformer") == {}

    # As `keymask train residual-transformer --init-from grown` asks, with no size option.
    config = TokenTrainingConfig(kind="residual_transformer", dataset_dir=str(dataset),
                                 rvq_dir=str(tmp_path / "rvq" / "rvq_vae"), output_dir=str(tmp_path / "tuned"),
                                 model_size=None, init_from=str(tmp_path / "grown"),
                                 iterations=1, batch_size=4, warmup=1, lr=1e-3)
    tuned = train_token_model(config, progress=False, stop_at_step=0)
    assert (tuned.config.latent_dim, tuned.config.n_layers, tuned.config.ff_size) == (16, 1, 40)
    for (name, a), b in zip(tuned.state_dict().items(), grown.state_dict().values()):
        assert torch.equal(a, b), name
    config.output_dir, config.model_size = str(tmp_path / "wider"), {"ff_size": 56}
    assert train_token_model(config, progress=False, stop_at_step=0).config.ff_size == 56


def test_trained_parts_assemble_into_a_model_that_generates(small_dataset, tmp_path, capsys):
    from keymask.cli.main import main
    from keymask.core.generation.pipeline import MotionPipeline

    dataset = str(small_dataset[0].output_dir)
    assert main(["train", "rvq-vae", "--dataset", dataset, "--out", str(tmp_path / "rvq"), "--iterations", "2",
                 "--batch-size", "8", "--window", "16", "--width", "16", "--code-dim", "8", "--codes", "16",
                 "--quantizers", "2", "--depth", "1"]) == 0
    rvq = str(tmp_path / "rvq" / "rvq_vae")
    for kind in ("mask-transformer", "residual-transformer", "length-estimator"):
        assert main(["train", kind, "--dataset", dataset, "--rvq", rvq, "--out", str(tmp_path / kind),
                     "--iterations", "1", "--batch-size", "4"]) == 0
    assert main(["train", "assemble", "--dataset", dataset, "--rvq", rvq,
                 "--mask", str(tmp_path / "mask-transformer" / "mask_transformer"),
                 "--residual", str(tmp_path / "residual-transformer" / "residual_transformer"),
                 "--length", str(tmp_path / "length-estimator" / "length_estimator"),
                 "--out", str(tmp_path / "model")]) == 0
    motion = MotionPipeline.from_folder(tmp_path / "model")(["a person bows"], seed=0).motions[0]
    assert motion.joints.shape[1:] == (22, 3) and len(motion.joints) >= 4
    assert "validation MPJPE" in capsys.readouterr().out


def test_rare_actions_are_repeated_in_every_epoch_and_joined_clips_shown_once():
    from keymask.core.training.loop import shuffled_batches
    from keymask.core.training.train_transformers import action_repeats

    actions = ["walk"] * 100 + ["hop"] * 4 + ["kick"] + [None] * 3
    repeats = action_repeats(actions, most=8)
    assert repeats[:100] == [1] * 100 and repeats[100] == 5 and repeats[104] == 8 and repeats[105:] == [1, 1, 1]
    stream = shuffled_batches(len(actions), 4, lambda indices: indices.tolist(), seed=0, repeats=repeats)(0, 0, 1)
    one_epoch = [next(stream)[1] for _ in range(sum(repeats) // 4)]  # (step, batch) pairs; the batch is item ids
    seen = [i for batch in one_epoch for i in batch]
    assert seen.count(104) == 8 and seen.count(100) == 5 and seen.count(0) <= 1


def test_a_higher_balance_power_repeats_rare_actions_more_up_to_the_cap():
    from keymask.core.training.train_transformers import action_repeats

    actions = ["walk"] * 100 + ["hop"] * 4 + ["kick"] * 25
    square_root = action_repeats(actions, most=40)
    linear = action_repeats(actions, most=40, power=1.0)
    assert (square_root[100], square_root[104]) == (5, 2)  # sqrt(100 / 4), sqrt(100 / 25)
    assert (linear[100], linear[104]) == (25, 4) and linear[0] == 1
    assert action_repeats(actions, most=10, power=1.0)[100] == 10


def test_pulled_captions_lie_between_the_caption_and_its_action_centroid():
    from keymask.core.training.tokens import TokenClips, TokenCrops, action_centroids

    walk = torch.nn.functional.normalize(torch.tensor([[1.0, 0.2, 0.0], [1.0, -0.2, 0.0]]), dim=-1)
    bow = torch.nn.functional.normalize(torch.tensor([[0.0, 0.3, 1.0]]), dim=-1)
    clips = TokenClips(["a", "b", "c", "d"], [torch.zeros(3, 2, dtype=torch.long)] * 4, [["x"]] * 4,
                       [walk[:1], walk[1:], bow, bow])
    targets = action_centroids(clips, ["walk", "walk", "bow", None])
    assert torch.allclose(targets[0], torch.tensor([1.0, 0.0, 0.0])) and targets[0] is targets[1]
    assert targets[3] is None  # a joined clip: no action to pull toward
    torch.manual_seed(0)
    pulled = [TokenCrops(clips, 4, pull_targets=targets, pull_share=1.0)[0][2] for _ in range(50)]
    as_written = TokenCrops(clips, 4, pull_targets=targets, pull_share=0.0)[0][2]
    assert torch.equal(as_written, walk[0])
    toward = torch.stack([p @ targets[0] for p in pulled])  # cosine to the centroid: from the caption's up to halfway
    assert torch.allclose(torch.stack([p.norm() for p in pulled]), torch.ones(50))
    assert (toward >= walk[0] @ targets[0] - 1e-6).all() and toward.max() > 0.995
    assert torch.equal(TokenCrops(clips, 4, pull_targets=targets, pull_share=1.0)[3][2], bow[0])


def test_mixed_captions_are_unit_blends_of_two_captions_of_the_same_clip():
    from keymask.core.training.tokens import TokenClips, TokenCrops

    first = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), dim=-1)
    other = torch.tensor([[0.0, 0.0, 1.0]])
    clips = TokenClips(["a", "b"], [torch.zeros(3, 2, dtype=torch.long)] * 2, [["x", "y"], ["z"]], [first, other])
    torch.manual_seed(0)
    mixed = torch.stack([TokenCrops(clips, 4, mix_share=1.0)[0][2] for _ in range(200)])
    assert torch.allclose(mixed.norm(dim=-1), torch.ones(200))
    assert torch.allclose(mixed[:, 2], torch.zeros(200))  # never toward another clip's caption
    between = (mixed[:, 0] > 0.05) & (mixed[:, 1] > 0.05)
    assert between.float().mean() > 0.3  # blends, not only the captions themselves
    as_written = torch.stack([TokenCrops(clips, 4, mix_share=0.0)[0][2] for _ in range(50)])
    assert ((as_written == first[0]).all(-1) | (as_written == first[1]).all(-1)).all()
    assert torch.equal(TokenCrops(clips, 4, mix_share=1.0)[1][2], other[0])  # one caption: itself


class _CountingEncoder:
    """A text encoder that remembers every sentence it was asked to encode."""

    def __init__(self, name: str):
        self.name, self.seen = name, []

    def encode(self, texts):
        self.seen.extend(texts)
        return torch.stack([torch.full((4,), float(len(text))) for text in texts])


def test_caption_embeddings_are_cached_per_sentence_and_per_encoder(tmp_path):
    from keymask.core.training.data import caption_cache_path, embed_captions

    cache = caption_cache_path(tmp_path, "mini")
    first = _CountingEncoder("mini")
    embedded = embed_captions([["a b", "c"], ["c"]], first, progress=False, cache=cache)
    assert sorted(first.seen) == ["a b", "c"] and cache.exists()
    assert [e.shape for e in embedded] == [(2, 4), (1, 4)] and embedded[0][0, 0] == 3.0

    again = _CountingEncoder("mini")
    reembedded = embed_captions([["c", "d e f"]], again, progress=False, cache=cache)
    assert again.seen == ["d e f"]  # only the new sentence is encoded
    assert reembedded[0][:, 0].tolist() == [1.0, 5.0]
    other = _CountingEncoder("other encoder")
    embed_captions([["c"]], other, progress=False, cache=cache)
    assert other.seen == ["c"]  # another encoder's vectors are never reused
