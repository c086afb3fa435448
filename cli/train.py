"""`keymask train ...`: train the models on a built dataset."""

import argparse
import os
from pathlib import Path

from keymask.cli.errors import CommandError, power, share

EPILOG = """\
examples:
  keymask train rvq-vae --out runs/rvq                       # ~/.cache/keymask dataset, default size
  keymask train rvq-vae --out runs/rvq --max-minutes 100     # stop in time, run again to continue
  torchrun --nproc_per_node 2 -m keymask.cli.main train rvq-vae --out runs/rvq   # data parallel

A run saves its state every few hundred iterations in --out; the same command continues it
(with the same settings). Losses go to <out>/rvq_vae.csv and a plot to <out>/rvq_vae.png; the
model to <out>/rvq_vae/ (config.json + model.safetensors)."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train the models on a built dataset",
                                   description="Train KeyMask's models on a dataset built by `keymask data build`.",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    models = parser.add_subparsers(dest="model_kind", metavar="MODEL", required=True)
    rvq = models.add_parser("rvq-vae", help="the motion tokenizer (residual VQ-VAE)", epilog=EPILOG,
                            description="Train the residual VQ-VAE as MoMask does (windows of motion features, "
                                        "quantizer dropout, EMA codebooks, commitment loss).",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_arguments(rvq, iterations=3000, batch_size=128, batch_items="windows")
    rvq.add_argument("--window", type=int, default=64, help="frames per window (default: %(default)s)")
    rvq.add_argument("--width", type=int, default=128, help="encoder/decoder channels (default: %(default)s)")
    rvq.add_argument("--code-dim", type=int, default=128, help="code width (default: %(default)s)")
    rvq.add_argument("--codes", type=int, default=512, help="codes per codebook (default: %(default)s)")
    rvq.add_argument("--quantizers", type=int, default=6, help="residual layers (default: %(default)s)")
    rvq.add_argument("--depth", type=int, default=2, help="residual blocks per stage (default: %(default)s)")
    rvq.add_argument("--position-weight", type=float, default=0.5,
                     help="weight of the joint-position loss beside the feature loss (default: %(default)s)")
    rvq.add_argument("--decoder-only", action="store_true",
                     help="fine-tune the decoder alone (with --init-from): tokens stay as they are, so "
                          "transformers trained on them stay valid")
    rvq.set_defaults(run=run_rvq_vae)

    for kind, what in (("mask-transformer", "the text-conditioned masked transformer (base token layer)"),
                       ("residual-transformer", "the residual transformer (finer token layers)"),
                       ("length-estimator", "the text -> motion length classifier")):
        token = models.add_parser(kind, help=what, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
                                  description=f"Train {what} on the training split's tokens (from a trained "
                                              "RVQ-VAE) and caption embeddings (the packaged MiniLM encoder).")
        _add_run_arguments(token, iterations=3000, batch_size=64, batch_items="clips")
        token.add_argument("--rvq", type=Path, required=True, help="a trained RVQ-VAE folder (<run>/rvq_vae)")
        token.add_argument("--text-noise", type=float, default=0.0,
                           help="std of Gaussian noise added to each caption embedding per dimension, so that "
                                "unseen wordings near a caption are understood (default: %(default)s; 0.01 moves "
                                "a unit embedding by about 0.2)")
        token.add_argument("--balance-actions", type=int, default=1, metavar="MOST",
                           help="show clips of rare actions up to MOST times per epoch, as often as the median "
                                "action's (default: %(default)s, no balancing)")
        token.add_argument("--balance-power", type=power, default=0.5, metavar="P",
                           help="with --balance-actions, a clip of an action with n clips shows (N / n) ** P "
                                "times per epoch, N the commonest action's count (default: %(default)s, the "
                                "square root; 1 shows every action equally often up to MOST)")
        token.add_argument("--pull-share", type=share, default=0.0, metavar="SHARE",
                           help="condition this share of the captions on the caption pulled part of the way "
                                "toward the mean caption of its action, as generation pulls unseen wordings "
                                "(SamplingSettings.action_pull; default: %(default)s)")
        token.add_argument("--mix-captions", type=share, default=0.0, metavar="SHARE",
                           help="condition this share of the captions on a random blend of two captions of the "
                                "same clip, as a new wording lands between known ones (default: %(default)s)")
        if kind != "length-estimator":
            token.add_argument("--latent-dim", type=int, default=None,
                               help="transformer width (default: that of the --init-from model, else 256)")
            token.add_argument("--layers", type=int, default=None,
                               help="transformer layers (default: those of the --init-from model, else 4)")
            token.add_argument("--ff-size", type=int, default=None,
                               help="feed-forward width of each layer (default: that of the --init-from "
                                    "model, else 3 x --latent-dim); wider than the --init-from model's, the run "
                                    "starts as that model exactly (the new units' outputs start at zero) and "
                                    "learns with more capacity")
        token.set_defaults(run=run_token_model, kind=kind.replace("-", "_"))

    evaluator = models.add_parser(
        "evaluator", help="the text-motion evaluator behind `keymask eval`", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train the evaluator's motion and text encoders contrastively on the training split "
                    "(the part the HumanML3D evaluator plays in the papers' FID and R-precision).")
    _add_run_arguments(evaluator, iterations=1500, batch_size=96, batch_items="clips")
    evaluator.add_argument("--width", type=int, default=192, help="encoder width (default: %(default)s)")
    evaluator.add_argument("--body-variants", type=int, default=0,
                           help="also train on each clip carried onto this many random bodies (mixes of the body "
                                "presets), so that it reads movement rather than proportions (default: %(default)s)")
    evaluator.set_defaults(run=run_evaluator)

    lifter = models.add_parser(
        "lifter", help="the 2D -> 3D key-pose lifter", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train the MLP that lifts 2D keypoints (COCO-18, pixels) to a 3D key pose, on the training "
                    "split's poses projected through fresh random cameras (noise and dropped joints added); "
                    "measured on the val split every --val-every steps.")
    _add_run_arguments(lifter, iterations=15000, batch_size=256, batch_items="poses")
    lifter.set_defaults(lr=1e-3)
    lifter.add_argument("--width", type=int, default=512, help="hidden features (default: %(default)s)")
    lifter.add_argument("--blocks", type=int, default=2, help="residual blocks (default: %(default)s)")
    lifter.add_argument("--frame-step", type=int, default=3,
                        help="train on every n-th frame of each clip (default: %(default)s)")
    lifter.add_argument("--val-every", type=int, default=1000, help="steps between val measures (default: %(default)s)")
    lifter.add_argument("--hard-poses", type=int, default=1, metavar="MOST",
                        help="show poses that a reference lifter lifts badly up to MOST times per epoch, in "
                             "proportion to its error (default: 1, every pose once)")
    lifter.add_argument("--hard-reference", type=Path, default=None, metavar="DIR",
                        help="the lifter folder that measures --hard-poses (default: the shipped lifter)")
    lifter.set_defaults(run=run_lifter)

    assemble = models.add_parser(
        "assemble", help="put trained parts together into one model folder",
        description="Gather a trained RVQ-VAE, masked and residual transformers and length estimator, with the "
                    "dataset's feature statistics, into a model folder that `keymask generate --model` loads.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    assemble.add_argument("--dataset", type=Path, default=None, help="built dataset folder (its mean/std)")
    for part in ("rvq", "mask", "residual", "length"):
        assemble.add_argument(f"--{part}", type=Path, required=part != "length", help=f"trained {part} model folder")
    assemble.add_argument("--out", type=Path, required=True, help="the model folder to write")
    assemble.set_defaults(run=run_assemble)

    index = models.add_parser(
        "caption-index", help="the index that tells which prompts a model has not learned",
        description="Embed up to --per-action training captions of every action into MODEL/caption_index/ and "
                    "choose the similarity threshold under which `keymask generate` says a prompt asks for "
                    "something the model has not learned: the highest that calls at most 3% of the "
                    "calibration set's known prompts unknown. Its off-topic prompts (words that describe no "
                    "motion) set the similarity floor: the lowest under which 95% of them fall. The reader, a "
                    "stronger sentence encoder, then embeds the same captions to read which trained action a prompt "
                    "asks for (the action generation pulls it toward), with the wordings of "
                    "resources/text/reader_wordings.txt that no caption uses.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    index.add_argument("--model", type=Path, required=True, help="the model folder to add the index to")
    index.add_argument("--reader", choices=("all-mpnet-base-v2", "none"), default="all-mpnet-base-v2",
                       help="the sentence encoder that reads prompts as actions; none: the model's own "
                            "(default: %(default)s)")
    index.add_argument("--dataset", type=Path, default=None, help="the dataset the model was trained on")
    index.add_argument("--per-action", type=int, default=48, help="captions per action (default: %(default)s)")
    index.add_argument("--calibration", type=Path, default=None,
                       help="JSON {known: [...], unknown: [...], off_topic: [...]} (default: the shipped "
                            "novelty_calibration.json)")
    index.set_defaults(run=run_caption_index)

    exemplars = models.add_parser(
        "exemplars", help="the training clips a prompt's motion is made from",
        description="Encode the training split's clips of every action the caption index reads (run `keymask train "
                    "caption-index` first) with the model's tokenizer into MODEL/exemplars/, one token file per "
                    "source under its licence, with the model's embeddings of their captions. `keymask generate` "
                    "then holds one of the clips whose captions are nearest the prompt (--exemplar-share).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    exemplars.add_argument("--model", type=Path, required=True, help="the model folder to add the exemplars to")
    exemplars.add_argument("--dataset", type=Path, default=None, help="the dataset the model was trained on")
    exemplars.set_defaults(run=run_exemplars)


def _add_run_arguments(parser: argparse.ArgumentParser, *, iterations: int, batch_size: int, batch_items: str) -> None:
    """The options every training run has (RunConfig's fields, plus where the data is and a time limit)."""
    parser.add_argument("--dataset", type=Path, default=None, help="built dataset folder (default: the cache's)")
    parser.add_argument("--out", type=Path, required=True, help="run folder: state, logs and the model")
    parser.add_argument("--iterations", type=int, default=iterations, help="training steps (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help=f"{batch_items} per step and process (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop after this long with the state saved; run again to continue")
    parser.add_argument("--warmup", type=int, default=200, help="steps of linear learning-rate warm-up "
                        "(default: %(default)s)")
    parser.add_argument("--milestones", type=float, nargs="+", default=[0.7, 0.9], metavar="FRACTION",
                        help="fractions of the run where the learning rate drops tenfold (default: 0.7 0.9)")
    parser.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                        help="start from the weights of another run folder of the same model (fine-tuning)")


def _run_settings(args) -> dict:
    """RunConfig fields and the dataset folder from the options of _add_run_arguments."""
    from keymask.core.paths import default_dataset_dir

    return dict(dataset_dir=str(args.dataset or default_dataset_dir()), output_dir=str(args.out),
                iterations=args.iterations, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                warmup=args.warmup, milestones=tuple(args.milestones),
                init_from=None if args.init_from is None else str(args.init_from))


def _time_limit(args) -> float | None:
    return None if args.max_minutes is None else args.max_minutes * 60


def run_rvq_vae(args) -> int:
    from keymask.core.models.rvq_vae import RVQVAEConfig
    from keymask.core.training.train_rvq_vae import RVQTrainingConfig, reconstruction_mpjpe, train_rvq_vae

    model = RVQVAEConfig(nb_code=args.codes, code_dim=args.code_dim, width=args.width, depth=args.depth,
                         num_quantizers=args.quantizers)
    config = RVQTrainingConfig(model=model, window=args.window, position_weight=args.position_weight,
                               decoder_only=args.decoder_only, **_run_settings(args))
    trained = train_rvq_vae(config, stop_after_seconds=_time_limit(args))
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one report
        print(f"model: {args.out / 'rvq_vae'}; log: {args.out / 'rvq_vae.csv'}")
        print(f"validation MPJPE: {reconstruction_mpjpe(trained, config.dataset_dir, 'val') * 1000:.1f} mm "
              "(root-aligned, as MoMask reports it)")
    return 0


def run_token_model(args) -> int:
    from keymask.core.training.train_transformers import TokenTrainingConfig, train_token_model

    config = TokenTrainingConfig(kind=args.kind, rvq_dir=str(args.rvq), text_noise=args.text_noise,
                                 balance_actions=args.balance_actions, balance_power=args.balance_power,
                                 pull_share=args.pull_share,
                                 mix_share=args.mix_captions,
                                 **_run_settings(args),
                                 model_size=None if args.kind == "length_estimator" else
                                 {name: value for name, value in (("latent_dim", args.latent_dim),
                                  ("n_layers", args.layers), ("ff_size", args.ff_size)) if value is not None})
    train_token_model(config, stop_after_seconds=_time_limit(args))
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"model: {args.out / args.kind}; log: {args.out / (args.kind + '.csv')}")
    return 0


def run_evaluator(args) -> int:
    from keymask.core.metrics.evaluator import EvaluatorConfig
    from keymask.core.training.train_evaluator import EvaluatorTrainingConfig, train_evaluator

    config = EvaluatorTrainingConfig(model=EvaluatorConfig(hidden_dim=args.width), body_variants=args.body_variants,
                                     **_run_settings(args))
    train_evaluator(config, stop_after_seconds=_time_limit(args))
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"evaluator: {args.out / 'evaluator'}; log: {args.out / 'evaluator.csv'}")
    return 0


def run_lifter(args) -> int:
    from keymask.conditioning.lifting.model import LifterConfig
    from keymask.conditioning.lifting.train import LifterTrainingConfig, train_lifter

    config = LifterTrainingConfig(model=LifterConfig(width=args.width, blocks=args.blocks),
                                  frame_step=args.frame_step, val_every=args.val_every, hard_poses=args.hard_poses,
                                  hard_pose_reference=None if args.hard_reference is None else str(args.hard_reference),
                                  **_run_settings(args))
    train_lifter(config, stop_after_seconds=_time_limit(args))
    print(f"lifter: {args.out / 'lifter'}; log: {args.out / 'lifter.csv'}, val: {args.out / 'lifter_val.csv'}")
    return 0


def run_assemble(args) -> int:
    from keymask.core.backends.torch_backend import torch_models
    from keymask.core.models.bundle import save_models
    from keymask.core.models.length_estimator import LengthEstimator
    from keymask.core.models.mask_transformer import MaskTransformer
    from keymask.core.models.residual_transformer import ResidualTransformer
    from keymask.core.models.rvq_vae import RVQVAE
    from keymask.core.paths import default_dataset_dir
    from keymask.core.text.encoders import SentenceEncoder
    from keymask.core.training.data import dataset_license, load_statistics

    mean, std = load_statistics(args.dataset or default_dataset_dir())
    models = torch_models(
        vq=RVQVAE.from_pretrained(args.rvq), mask_transformer=MaskTransformer.from_pretrained(args.mask),
        residual_transformer=ResidualTransformer.from_pretrained(args.residual), mean=mean, std=std,
        text_encoder=SentenceEncoder.name,
        length_estimator=LengthEstimator.from_pretrained(args.length) if args.length else None,
        info={"license": dataset_license(args.dataset or default_dataset_dir())})
    print(f"model folder: {save_models(models, args.out)}")
    return 0


def run_exemplars(args) -> int:
    from keymask.core.generation.pipeline import MotionPipeline
    from keymask.core.paths import default_dataset_dir
    from keymask.core.training.exemplar_library import build_exemplar_library

    pipeline = MotionPipeline.from_folder(args.model)
    try:
        library = build_exemplar_library(args.dataset or default_dataset_dir(), pipeline,
                                         progress=lambda done, total: print(f"captions embedded: {done}/{total}",
                                                                            flush=True))
    except ValueError as error:
        raise CommandError(str(error)) from None
    folder = library.save(args.model)
    print(f"exemplars: {folder} ({len(library.clip_tokens)} clips of {len(set(library.clip_actions.tolist()))} actions; sources "
          f"{', '.join(library.licences)})")
    return 0


def run_caption_index(args) -> int:
    from keymask.core.paths import default_dataset_dir
    from keymask.core.text.numpy_sentence_encoders import NumpyMPNetEncoder, NumpySentenceEncoder
    from keymask.core.training.caption_index import build_caption_index
    from keymask.resources import RESOURCES_DIR

    calibration = args.calibration or RESOURCES_DIR / "eval" / "novelty_calibration.json"
    index, measured = build_caption_index(args.dataset or default_dataset_dir(), NumpySentenceEncoder(), calibration,
                                          RESOURCES_DIR / "text" / "other_activities.txt", per_action=args.per_action,
                                          reader=None if args.reader == "none" else NumpyMPNetEncoder(),
                                          wordings_file=RESOURCES_DIR / "text" / "reader_wordings.txt")
    folder = index.save(args.model)
    off_topic = "" if measured.off_topic_flagged is None else f", off-topic flagged {measured.off_topic_flagged:.0%}"
    print(f"caption index: {folder} ({len(index.actions)} captions); threshold {measured.threshold:.3f}, similarity floor "
          f"{measured.similarity_floor:.3f}: calibration known prompts flagged {measured.known_flagged:.0%}, "
          f"unknown flagged {measured.unknown_flagged:.0%}{off_topic}")
    return 0
