"""`keymask eval`: score a model against real data, as the text-to-motion papers do."""

import argparse
from pathlib import Path

from keymask.core.generation.sampling import SamplingSettings

EPILOG = """\
examples:
  keymask eval                                  # the shipped model, the test split, the shipped evaluator
  keymask eval --model runs/model --json report.json --markdown report.md
  keymask eval --real-only                      # only the real-data floor (no generation)
  keymask eval --repeats 5                      # 5 draws; every main score as mean +- 95% interval

The scores come from an evaluator (motion and text encoders trained contrastively on the
training split: `keymask train evaluator`). Each model score is printed beside the same score for
the real test motions, the floor a model is measured against. Generation is seeded (--seed)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="benchmark a model: FID, R-precision, physical metrics, paraphrases",
        description="Generate one motion per test clip from its caption and length, and score them with the "
                    "trained evaluator beside the real test motions: FID, R-precision top-1/2/3, matching score, "
                    "diversity, multimodality, foot skating, floating/penetration, jitter, bone-length drift; plus "
                    "action accuracy on paraphrased prompts and the RVQ-VAE's reconstruction error (MPJPE).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a KeyMask model folder (default: the shipped one)")
    parser.add_argument("--evaluator", type=Path, default=None,
                        help="an evaluator folder (default: the one shipped in resources/models/evaluator)")
    parser.add_argument("--dataset", type=Path, default=None, help="built dataset folder (default: the cache's)")
    parser.add_argument("--split", default="test", choices=("test", "val", "train"),
                        help="clips to score (default: test)")
    parser.add_argument("--paraphrases", type=Path, default=None,
                        help="JSON list of {prompt, accepts} (default: the shipped paraphrase set)")
    parser.add_argument("--multimodality-texts", type=int, default=32,
                        help="texts sampled 10 times each for multimodality; 0 skips it (default: %(default)s)")
    parser.add_argument("--group-size", type=int, default=32,
                        help="R-precision ranks each text's motion among this many (default: %(default)s, as published)")
    parser.add_argument("--guidance", type=float, default=SamplingSettings.guidance_scale,
                        help="classifier-free guidance of the masked transformer (default: %(default)s)")
    parser.add_argument("--temperature", type=float, default=SamplingSettings.temperature,
                        help="sampling temperature; 0 takes the most likely token (default: %(default)s)")
    parser.add_argument("--residual-temperature", type=float, default=SamplingSettings.residual_temperature,
                        help="sampling temperature of the finer token layers; 0 takes the most likely token "
                             "(default: the --temperature)")
    parser.add_argument("--topk", type=float, default=SamplingSettings.topk_filter_thres,
                        help="top-k filter threshold: keep the top (1 - topk) share of tokens (default: %(default)s)")
    parser.add_argument("--residual-topk", type=float, default=SamplingSettings.residual_topk_filter_thres,
                        help="the same for the finer token layers (default: the --topk)")
    parser.add_argument("--steps", type=int, default=SamplingSettings.steps,
                        help="masked-decoding iterations (default: %(default)s)")
    parser.add_argument("--residual-guidance", type=float, default=SamplingSettings.residual_guidance_scale,
                        help="classifier-free guidance of the residual transformer; 1 runs it once per layer "
                             "instead of twice (default: %(default)s)")
    parser.add_argument("--action-pull", type=float, default=SamplingSettings.action_pull,
                        help="pull of each prompt toward the captions of the trained action it reads as; 0 "
                             "conditions on the words alone (default: %(default)s)")
    parser.add_argument("--exemplar-share", type=float, default=SamplingSettings.exemplar_share,
                        help="share of each motion held to a training clip of the action its caption reads as "
                             "(default: %(default)s; 0: from the words alone)")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="score the decoder's raw joints (no smoothing or foot locking) in the physical metrics")
    parser.add_argument("--real-only", action="store_true", help="score the real data only")
    parser.add_argument("--seed", type=int, default=0, help="seed of generation and of the metric draws")
    parser.add_argument("--repeats", type=int, default=1,
                        help="draws to repeat (seeds SEED, SEED+1, ...: each clip's caption, the R-precision groups, "
                             "generation), reported as mean +- 95%% interval; the papers use 20; the tables above "
                             "them, multimodality and the paraphrases are those of the first (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="write the full report as JSON")
    parser.add_argument("--markdown", type=Path, default=None, help="write the tables as Markdown")
    parser.set_defaults(run=run)


def _evaluator_folder(args) -> Path:
    from keymask.cli.errors import CommandError
    from keymask.resources import RESOURCES_DIR

    folder = args.evaluator or RESOURCES_DIR / "models" / "evaluator"
    if not (folder / "model.safetensors").exists():
        raise CommandError(f"No evaluator in {folder}: train one with `keymask train evaluator --out RUN` and pass "
                           "--evaluator RUN/evaluator.")
    return folder


def feature_generator(pipeline, settings, cleanup):
    """A GenerateMotions for the benchmark from a MotionPipeline: the joints a user gets (cleaned up
    unless --no-cleanup, fitted to the BVH skeleton as `keymask generate` writes them) and the
    features recomputed from those joints for the evaluator."""
    from keymask.core.features import joints_to_features
    from keymask.core.generation.export import delivered_joints

    def generate(prompts, lengths, seed):
        result = pipeline(list(prompts), frames=None if lengths is None else list(lengths), seed=seed,
                          settings=settings, cleanup=cleanup)
        delivered = [delivered_joints(motion.joints, fps=motion.fps) for motion in result.motions]
        return [(joints_to_features(joints), joints) for joints in delivered]

    return generate


def _fmt(value, digits=3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def markdown_tables(report, split: str = "test") -> str:
    real, model = report.real, report.model
    rows = [("FID (vs train)", real.fid_train, model and model.fid_train, "lower"),
            ("FID (vs test)", None, model and model.fid_test, "lower"),
            ("R-precision top-1", real.r_precision[0], model and model.r_precision[0], "higher"),
            ("R-precision top-2", real.r_precision[1], model and model.r_precision[1], "higher"),
            ("R-precision top-3", real.r_precision[2], model and model.r_precision[2], "higher"),
            ("Matching score", real.matching, model and model.matching, "lower"),
            ("Diversity", real.diversity, model and model.diversity, "close to real"),
            ("Multimodality", None, model and model.multimodality, "higher"),
            ("Foot skating ratio", real.physical.skating_ratio, model and model.physical.skating_ratio, "lower"),
            ("Penetration (cm)", real.physical.penetration_cm, model and model.physical.penetration_cm, "lower"),
            ("Floating (cm)", real.physical.floating_cm, model and model.physical.floating_cm, "lower"),
            ("Jitter (m/s³)", real.physical.jitter, model and model.physical.jitter, "lower"),
            ("Bone-length drift", real.physical.bone_drift, model and model.physical.bone_drift, "lower")]
    lines = [f"| metric | real ({split} split) | model | ratio model/real | better |", "|---|---|---|---|---|"]
    for name, real_value, model_value, better in rows:
        ratio = model_value / real_value if model_value is not None and real_value and abs(real_value) > 1e-6 else None
        lines.append(f"| {name} | {_fmt(real_value)} | {_fmt(model_value)} | {_fmt(ratio, 2)} | {better} |")
    if report.paraphrases is not None:
        p = report.paraphrases
        lines += ["", f"Paraphrase accuracy: {p.accuracy:.2f} ({sum(r.correct for r in p.results)}/{len(p.results)}); "
                      f"the same classifier on real test motions: {p.real_accuracy:.2f}", "",
                  "| prompt | classified as | right |", "|---|---|---|"]
        lines += [f"| {r.prompt} | {r.predicted} | {'yes' if r.correct else 'no'} |" for r in p.results]
    for key, value in report.extra.items():
        lines.append(f"\n{key}: {value}")
    return "\n".join(lines) + "\n"


def repeated_table(draws, split: str = "test") -> str:
    """draws: (real Scores, model Scores) per draw -> a Markdown table of mean +- 95% interval."""
    from keymask.core.metrics.evaluation import REPEATED, mean_and_interval

    lines = ["", f"Over {len(draws)} draws (mean +- 95% interval):", "",
             f"| metric | real ({split} split) | model | model - real (per draw) |", "|---|---|---|---|"]
    for name, value in REPEATED.items():
        real, model = ([value(scores[i]) for scores in draws] for i in (0, 1))
        cells = [mean_and_interval(real), mean_and_interval(model),
                 mean_and_interval([m - r for m, r in zip(model, real)])]
        lines.append(f"| {name} | " + " | ".join(f"{mean:.4f} +- {half:.4f}" for mean, half in cells) + " |")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    from keymask.cli.errors import CommandError
    from keymask.cli.generate import load_pipeline, sampling_error
    from keymask.core.fileio import write_json, write_text
    from keymask.core.generation.cleanup import CleanupSettings
    from keymask.core.metrics.evaluation import (
        REPEATED,
        Benchmark,
        EvaluationReport,
        EvaluationSettings,
        load_paraphrases,
    )
    from keymask.core.metrics.evaluator import MotionTextEvaluator
    from keymask.core.paths import default_dataset_dir
    from keymask.core.text.encoders import SentenceEncoder
    from keymask.core.training.train_rvq_vae import reconstruction_mpjpe
    from keymask.resources import RESOURCES_DIR

    if args.repeats < 1:
        raise CommandError(f"--repeats must be at least 1, got {args.repeats}.")
    try:
        sampling = SamplingSettings(guidance_scale=args.guidance, temperature=args.temperature,
                                    residual_temperature=args.residual_temperature, topk_filter_thres=args.topk,
                                    residual_topk_filter_thres=args.residual_topk, steps=args.steps,
                                    residual_guidance_scale=args.residual_guidance, action_pull=args.action_pull,
                                    exemplar_share=args.exemplar_share)
    except ValueError as error:
        raise sampling_error(error) from None
    evaluator = MotionTextEvaluator.from_pretrained(_evaluator_folder(args))
    dataset = args.dataset or default_dataset_dir()
    settings = EvaluationSettings(split=args.split, multimodality_texts=args.multimodality_texts, seed=args.seed,
                                  group_size=args.group_size)
    benchmark = Benchmark(evaluator, SentenceEncoder(), dataset, settings)
    report = EvaluationReport(real=benchmark.real_scores())
    if not args.real_only:
        pipeline = load_pipeline(args.model)
        generate = feature_generator(pipeline, sampling, None if args.no_cleanup else CleanupSettings())
        report.model = benchmark.model_scores(generate)
        draws = [(report.real, report.model)]
        for repeat in range(1, args.repeats):
            print(f"draw {repeat + 1} of {args.repeats} (seed {args.seed + repeat})", flush=True)
            other = benchmark.redrawn(args.seed + repeat, multimodality_texts=0)
            draws.append((other.real_scores(), other.model_scores(generate)))
        entries = load_paraphrases(args.paraphrases or RESOURCES_DIR / "eval" / "paraphrases.json")
        # A model without a length estimator gets 6 seconds per paraphrase.
        frames = None if pipeline.models.length_estimator is not None else 120
        report.paraphrases = benchmark.paraphrases(generate, entries, frames)
        mpjpe = reconstruction_mpjpe(pipeline.models.vq, dataset, args.split)
        report.extra["RVQ-VAE reconstruction MPJPE"] = f"{mpjpe * 1000:.1f} mm (root-aligned, {args.split} split)"
    tables = markdown_tables(report, args.split)
    if not args.real_only and args.repeats > 1:
        tables += repeated_table(draws, args.split)
    print(tables)
    if args.markdown:
        write_text(args.markdown, tables)
    if args.json:
        document = {"real": report.real.as_dict(), "model": report.model and report.model.as_dict(),
                    "paraphrases": report.paraphrases and {
                        "accuracy": report.paraphrases.accuracy, "real_accuracy": report.paraphrases.real_accuracy,
                        "results": [vars(r) for r in report.paraphrases.results]},
                    "extra": report.extra, "split": args.split, "seed": args.seed}
        if not args.real_only and args.repeats > 1:
            document["repeats"] = {"seeds": [args.seed + r for r in range(args.repeats)]} | {
                side: {name: [value(scores[i]) for scores in draws] for name, value in REPEATED.items()}
                for i, side in enumerate(("real", "model"))}
        write_json(args.json, document)
    return 0
