"""The benchmark: embedding statistics, the contrastive evaluator, its training, and `keymask eval`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from keymask.core.features import recover_from_ric
from keymask.core.metrics.embedding import (diversity, frechet_distance, matching_score, multimodality,
                                            r_precision)
from keymask.core.metrics.evaluator import EvaluatorConfig, MotionTextEvaluator

TINY = EvaluatorConfig(hidden_dim=16, n_layers=1, n_heads=2, embed_dim=8, dropout=0.0)


# --- embedding statistics ---------------------------------------------------------------------

def test_frechet_distance_is_zero_for_one_set_and_the_squared_shift_for_a_moved_one():
    points = np.random.default_rng(0).normal(size=(500, 4))
    assert frechet_distance(points, points) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(points, points + np.array([3.0, 0, 0, 0])) == pytest.approx(9.0, rel=1e-6)
    wider = points * 2.0  # mean x2, covariance x4: trace term (1 + 4 - 2*2) times the covariance's trace
    expected = (points.mean(0) ** 2).sum() + np.trace(np.cov(points, rowvar=False)) * (1 + 4 - 4)
    assert frechet_distance(points, wider) == pytest.approx(expected, rel=1e-4)


def test_r_precision_counts_where_each_text_ranks_its_own_motion():
    rng = np.random.default_rng(1)
    motion = rng.normal(size=(64, 8))
    assert np.allclose(r_precision(motion, motion), [1, 1, 1])
    # Each text sits exactly on the motion of its neighbour in the group: its own is never first.
    order = np.random.default_rng(0).permutation(64)
    shifted = motion.copy()
    for g in range(2):
        rows = order[g * 32: (g + 1) * 32]
        shifted[rows] = motion[np.roll(rows, 1)]
    top = r_precision(shifted, motion, seed=0)
    assert top[0] == 0.0 and np.all(np.diff(top) >= 0)
    with pytest.raises(ValueError, match="at least 32"):
        r_precision(motion[:10], motion[:10])


def test_matching_diversity_and_multimodality():
    text = np.zeros((10, 3))
    motion = np.zeros((10, 3))
    motion[:, 0] = 2.0
    assert matching_score(text, motion) == pytest.approx(2.0)
    assert diversity(np.ones((50, 3))) == 0.0
    spread = np.stack([np.zeros((20, 3)), np.ones((20, 3))], axis=1).reshape(40, 3)
    assert 0.0 < diversity(spread, pairs=39) < np.sqrt(3)
    same = np.repeat(np.random.default_rng(2).normal(size=(5, 1, 3)), 10, axis=1)
    assert multimodality(same) == pytest.approx(0.0)
    two_poles = np.zeros((5, 10, 3))
    two_poles[:, 1::2, 0] = 1.0  # half the samples one unit away
    assert 0.0 < multimodality(two_poles, pairs=9) <= 1.0
    with pytest.raises(ValueError):
        multimodality(np.zeros((5, 3)))


# --- the evaluator --------------------------------------------------------------------------

def test_motion_embedding_ignores_frames_past_the_length_and_is_unit_length():
    torch.manual_seed(0)
    evaluator = MotionTextEvaluator(TINY).eval()
    features = torch.randn(1, 40, TINY.input_dim)
    padded = torch.cat([features, 100 * torch.randn(1, 24, TINY.input_dim)], dim=1)
    a = evaluator.encode_motion(features, torch.tensor([40]))
    b = evaluator.encode_motion(padded, torch.tensor([40]))
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(a.norm(dim=-1), torch.ones(1))


def test_pairs_with_the_same_label_are_not_negatives():
    torch.manual_seed(0)
    evaluator = MotionTextEvaluator(TINY)
    features, lengths, text = torch.randn(6, 32, TINY.input_dim), torch.full((6,), 32), torch.randn(6, 384)
    all_same = evaluator.contrastive_loss(features, lengths, text, torch.zeros(6, dtype=torch.long))
    assert all_same.loss.item() == pytest.approx(0.0, abs=1e-6) and all_same.accuracy.item() == 1.0
    distinct = evaluator.contrastive_loss(features, lengths, text, torch.arange(6))
    assert distinct.loss.item() > 0.5


def test_contrastive_training_pulls_pairs_together_and_survives_saving(tmp_path):
    torch.manual_seed(0)
    evaluator = MotionTextEvaluator(TINY)
    features, lengths, text = torch.randn(8, 32, TINY.input_dim), torch.full((8,), 32), torch.randn(8, 384)
    labels = torch.arange(8)
    optimizer = torch.optim.Adam(evaluator.parameters(), lr=3e-3)
    first = evaluator.contrastive_loss(features, lengths, text, labels).loss.item()
    for _ in range(60):
        loss = evaluator.contrastive_loss(features, lengths, text, labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    result = evaluator.contrastive_loss(features, lengths, text, labels)
    assert result.loss.item() < first / 4 and result.accuracy.item() == 1.0
    evaluator.set_statistics(np.full(TINY.input_dim, 0.5), np.full(TINY.input_dim, 2.0))
    evaluator.save_pretrained(tmp_path / "evaluator")
    loaded = MotionTextEvaluator.from_pretrained(tmp_path / "evaluator")
    evaluator.eval()
    assert torch.equal(loaded.feature_std, evaluator.feature_std)
    assert torch.allclose(loaded.encode_motion(features, lengths), evaluator.encode_motion(features, lengths))


# --- training and the benchmark on real clips ---------------------------------------------------

def _train_tiny_evaluator(dataset, out, stop_at_step=None, **overrides):
    from keymask.core.training.train_evaluator import EvaluatorTrainingConfig, train_evaluator

    values = dict(dataset_dir=str(dataset), output_dir=str(out), model=TINY, iterations=4, batch_size=4, warmup=1,
                  log_every=2, checkpoint_every=2, lr=1e-3)
    return train_evaluator(EvaluatorTrainingConfig(**{**values, **overrides}), progress=False,
                           stop_at_step=stop_at_step)


def test_evaluator_training_resumes_bit_for_bit(small_dataset, tmp_path):
    dataset = small_dataset[0].output_dir
    straight = _train_tiny_evaluator(dataset, tmp_path / "straight")
    _train_tiny_evaluator(dataset, tmp_path / "resumed", stop_at_step=2)
    resumed = _train_tiny_evaluator(dataset, tmp_path / "resumed")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    rows = (tmp_path / "resumed" / "evaluator.csv").read_text().splitlines()
    assert rows[0].startswith("step,loss,accuracy") and len(rows) == 3
    mean = np.load(dataset / "mean.npy")
    assert np.allclose(MotionTextEvaluator.from_pretrained(tmp_path / "resumed" / "evaluator").feature_mean, mean)


def test_body_variants_add_each_clip_on_other_bodies_with_its_captions(small_dataset, tmp_path):
    from keymask.core.text.encoders import SentenceEncoder
    from keymask.core.training.train_evaluator import prepare_captioned_clips, with_body_variants

    dataset = small_dataset[0].output_dir
    clips = prepare_captioned_clips(dataset, "train", SentenceEncoder(), progress=False)
    varied = with_body_variants(clips, dataset, 1, seed=0)
    n = len(clips.features)
    assert len(varied.features) == 2 * n and varied.clip_ids == clips.clip_ids * 2
    assert torch.equal(varied.labels[n:], clips.labels)
    assert all(torch.equal(a, b) for a, b in zip(varied.caption_embeddings[n:], clips.caption_embeddings))
    for original, moved in zip(clips.features[:3], varied.features[n:n + 3]):
        # features are taken on the template skeleton (HumanML3D's process), yet another body's proportions
        # still move them: the root's height and speed scale with the legs, the hip and chest turns change
        assert moved.shape == original.shape and (moved - original).abs().max() > 1e-3
    again = with_body_variants(clips, dataset, 1, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(again.features, varied.features))  # a resumed run sees the same
    assert _train_tiny_evaluator(dataset, tmp_path / "varied", iterations=2, body_variants=1) is not None


@pytest.fixture(scope="module")
def benchmark(small_dataset, tmp_path_factory):
    from keymask.core.metrics.evaluation import Benchmark, EvaluationSettings
    from keymask.core.text.encoders import SentenceEncoder

    dataset = small_dataset[0].output_dir
    evaluator = _train_tiny_evaluator(dataset, tmp_path_factory.mktemp("evaluator"), iterations=2)
    settings = EvaluationSettings(split="train", group_size=4, multimodality_texts=3, multimodality_samples=2)
    return Benchmark(evaluator, SentenceEncoder(), dataset, settings)


def test_a_model_that_returns_the_real_motions_scores_like_the_real_data(benchmark):
    # The benchmark asks for the clips in order first, then for the multimodality repeats.
    in_order = list(benchmark.clips.features)
    by_caption = {(c, len(f)): f for c, f in zip(benchmark.clips.captions, benchmark.clips.features)}

    def with_joints(features):
        return [(f, recover_from_ric(f)) for f in features]

    def perfect(prompts, lengths, seed):
        if in_order:
            return with_joints([in_order.pop(0) for _ in prompts])
        return with_joints([by_caption[p, n] for p, n in zip(prompts, lengths)])

    def still(prompts, lengths, seed):  # every motion is the first frame held
        return with_joints([np.repeat(benchmark.clips.features[0][:1], n, axis=0) for n in lengths])

    real = benchmark.real_scores()
    copied = benchmark.model_scores(perfect)
    assert copied.fid_test == pytest.approx(0.0, abs=1e-4)
    assert copied.r_precision == pytest.approx(real.r_precision)
    assert copied.physical.jitter == pytest.approx(real.physical.jitter)
    assert copied.multimodality == pytest.approx(0.0, abs=1e-6)  # the same motion for each repeat
    frozen = benchmark.model_scores(still)
    assert frozen.fid_test > copied.fid_test + 1e-3
    # One frame's features held: a steady glide and turn, with next to no jerk.
    assert frozen.physical.jitter < real.physical.jitter / 10
    assert frozen.diversity < real.diversity / 10  # one pose for all (only the lengths differ)


def test_paraphrases_are_classified_by_the_action_they_show(benchmark):
    import copy

    features_of = dict(zip(benchmark.clips.contents, benchmark.clips.features))
    label = benchmark.clips.contents[0]
    # The six real clips share few actions: add a second one opposite the first in the embedding space.
    benchmark = copy.copy(benchmark)
    other = "an action nobody does"
    first = benchmark.centroids[benchmark.labels.index(label)]
    benchmark.labels = benchmark.labels + [other]
    benchmark.centroids = np.concatenate([benchmark.centroids, -first[None]])

    def shows_the_first_clip(prompts, lengths, seed):
        assert lengths is None  # the model picks the length of a paraphrase
        return [(features_of[label], recover_from_ric(features_of[label])) for _ in prompts]

    entries = [{"prompt": "someone does the first thing", "accepts": [label]},
               {"prompt": "someone does another thing", "accepts": [other]}]
    report = benchmark.paraphrases(shows_the_first_clip, entries)
    assert [r.predicted for r in report.results] == [label, label]
    assert report.accuracy == 0.5 and 0.0 <= report.real_accuracy <= 1.0


def test_the_shipped_paraphrase_set_names_real_actions():
    from keymask.core.data.captions import CONTENT_PHRASES
    from keymask.core.metrics.evaluation import load_paraphrases
    from keymask.resources import RESOURCES_DIR

    entries = load_paraphrases(RESOURCES_DIR / "eval" / "paraphrases.json")
    assert len(entries) >= 20
    caption_phrases = {phrase for phrases in CONTENT_PHRASES.values() for phrase in phrases}
    for entry in entries:
        assert set(entry["accepts"]) <= set(CONTENT_PHRASES), entry
        assert not any(entry["prompt"].lower().rstrip(".").endswith(p) for p in caption_phrases - {"throws a punch"})


def test_broken_paraphrase_files_are_named(tmp_path):
    from keymask.core.metrics.evaluation import load_paraphrases

    path = tmp_path / "p.json"
    path.write_text('[{"prompt": "a man waves"}]')
    with pytest.raises(ValueError, match="entry 1"):
        load_paraphrases(path)
    path.write_text("[{")
    with pytest.raises(ValueError, match="Cannot read"):
        load_paraphrases(path)


def test_keymask_eval_reports_model_beside_real(small_dataset, tmp_path, capsys):
    from keymask.cli.main import main

    dataset = str(small_dataset[0].output_dir)
    _train_tiny_evaluator(dataset, tmp_path / "ev", iterations=1)
    assert main(["train", "rvq-vae", "--dataset", dataset, "--out", str(tmp_path / "rvq"), "--iterations", "1",
                 "--batch-size", "8", "--window", "16", "--width", "16", "--code-dim", "8", "--codes", "16",
                 "--quantizers", "2", "--depth", "1"]) == 0
    rvq = str(tmp_path / "rvq" / "rvq_vae")
    for kind in ("mask-transformer", "residual-transformer"):
        assert main(["train", kind, "--dataset", dataset, "--rvq", rvq, "--out", str(tmp_path / kind),
                     "--iterations", "1", "--batch-size", "4", "--latent-dim", "32", "--layers", "1"]) == 0
    assert main(["train", "assemble", "--dataset", dataset, "--rvq", rvq,
                 "--mask", str(tmp_path / "mask-transformer" / "mask_transformer"),
                 "--residual", str(tmp_path / "residual-transformer" / "residual_transformer"),
                 "--out", str(tmp_path / "model")]) == 0
    capsys.readouterr()
    report = tmp_path / "out" / "report.json"
    assert main(["eval", "--model", str(tmp_path / "model"), "--evaluator", str(tmp_path / "ev" / "evaluator"),
                 "--dataset", dataset, "--split", "train", "--group-size", "4", "--multimodality-texts", "2",
                 "--json", str(report), "--markdown", str(tmp_path / "out" / "report.md")]) == 0
    out = capsys.readouterr().out
    assert "| FID (vs train) |" in out and "Paraphrase accuracy" in out and "MPJPE" in out
    document = json.loads(report.read_text())
    assert len(document["model"]["r_precision"]) == 3 and document["real"]["fid_test"] is None
    assert document["model"]["physical"]["bone_drift"] >= 0
    assert len(document["paraphrases"]["results"]) >= 20
    assert "repeats" not in document

    capsys.readouterr()
    assert main(["eval", "--model", str(tmp_path / "model"), "--evaluator", str(tmp_path / "ev" / "evaluator"),
                 "--dataset", dataset, "--split", "train", "--group-size", "4", "--multimodality-texts", "0",
                 # a tiny codebook keeps a single token at the default top-k share: sample from half of it
                 "--topk", "0.5", "--repeats", "3", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "Over 3 draws (mean +- 95% interval)" in out and "| R-precision top-3 |" in out
    assert "| metric | real (train split) | model | model - real (per draw) |" in out  # the split scored
    repeats = json.loads(report.read_text())["repeats"]
    assert repeats["seeds"] == [0, 1, 2] and len(repeats["model"]["R-precision top-3"]) == 3
    first = json.loads(report.read_text())["model"]
    assert repeats["model"]["FID (vs train)"][0] == first["fid_train"]  # the first draw is the one tabled above
    assert len(set(repeats["model"]["FID (vs train)"])) > 1  # the other draws generate anew
    assert repeats["model"]["Floating (cm)"][0] == first["physical"]["floating_cm"]
    assert "| Foot skating ratio |" in out

    # bench/paired.py pairs two such reports draw by draw: a report against itself differs by nothing.
    paired = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "bench" / "paired.py"), str(report),
                             str(report)], capture_output=True, text=True, check=True).stdout
    assert "3 paired draws on the train split" in paired
    assert "| FID (vs train) |" in paired and "| 0.0000 +- 0.0000 |" in paired


def test_mean_and_interval_is_the_papers_95_percent_interval():
    from keymask.core.metrics.evaluation import mean_and_interval

    mean, half = mean_and_interval([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and abs(half - 1.96 * np.std([1, 2, 3, 4]) / 2) < 1e-12
    assert mean_and_interval([0.5]) == (0.5, 0.0)


def test_keymask_eval_without_an_evaluator_says_how_to_get_one(tmp_path, capsys):
    from keymask.cli.main import main

    assert main(["eval", "--evaluator", str(tmp_path / "none"), "--real-only"]) == 2
    assert "keymask train evaluator" in capsys.readouterr().err
    assert main(["eval", "--repeats", "0"]) == 2
    assert "--repeats must be at least 1" in capsys.readouterr().err


def test_a_motion_longer_than_the_evaluators_window_is_seen_through_its_middle():
    from keymask.core.metrics.evaluation import embed_motions

    evaluator = MotionTextEvaluator(TINY).eval()
    window = TINY.max_frames - 1
    long = np.random.default_rng(0).normal(size=(window + 60, TINY.input_dim)).astype(np.float32)
    middle = long[30:30 + window]
    np.testing.assert_allclose(embed_motions(evaluator, [long]), embed_motions(evaluator, [middle]), atol=1e-6)
