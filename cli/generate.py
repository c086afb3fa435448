"""`keymask generate` and `keymask edit`: text to motion, and regenerating parts of a motion."""

import argparse
import os
import secrets
import sys
from pathlib import Path

from keymask.cli.errors import CommandError, rotation_order
from keymask.core.generation.sampling import SamplingSettings

GENERATE_EPILOG = """\
examples:
  keymask generate "a person jumps over a puddle" --seconds 4 --seed 3 -o jump.bvh
  keymask generate "someone waves with the left hand" --samples 3 -o wave.bvh --preview
  keymask generate --prompts prompts.txt -o batch/motion.bvh     # lines: text#frames (MoMask's format)
  torchrun --nproc_per_node 4 -m keymask.cli.main generate --prompts big.txt --seed 1 -o out/m.bvh --resume
                                     # a large prompt file shared between processes (or machines)
  keymask generate "a person walks in a circle" --seconds 60 -o long.bvh   # past 9.8 s: chained windows
  keymask generate "a man bows, then walks forward" -o bow_walk.bvh     # actions in turn ("then", "after",
                                     # "before", "followed by", "but first"); it says how it read them,
                                     # or why it made one action
  keymask generate "an old man shuffles ahead" --exemplar-share 0.5 -o shuffle.bvh   # half a real clip,
                                     # half made by the model (1, the default: the clip; 0: words alone)
  keymask generate "a person jumps" --key-pose crouch.json@1s --key-pose arms_up.json@2s -o jump.bvh
  keymask generate "a person walks" --key-pose turn3d.json@2.5s:root -o walk.bvh   # pose, place and facing
  keymask generate "a man kicks" --model checkpoints/t2m/t2m_nlayer8_nhead6_ld384_ff1024_cdp0.1_rvq6ns \\
      --clip-weights ~/models/ViT-B-32.pt -o kick.bvh                        # official MoMask weights

Key poses (--key-pose FILE@TIME) are OpenPose 2D JSON files (lifted to 3D) or KeyMask 3D key pose
files (keymask pose --help makes both); TIME is in seconds (1.5s) or frames (30). The motion
passes through each pose exactly at its time, with rigid bones; `:root` also holds the key's root
position and facing (3D files that give them); `:hold=0.3` holds the pose 0.3 s; `:ease=0.5`
(or ease_in/ease_out) turns towards and away from it over 0.5 s (default 0.75 s). Keys must be
at least 0.2 s apart, and work at any time, also past 9.8 s (chained windows).
  keymask generate "a person jumps" --key-pose actor_pose.json@1s:hold=0.3 -o jump.bvh  # on the actor's body
  keymask generate "a person waves" --key-pose wave.json@2s --body my_rig.bvh -o wave.bvh

By default a motion is made from a real training clip of the action the words name, the one of the
clips whose captions are nearest the prompt that the seed picks (--exemplar-share).
Each motion is written as BVH plus its joint positions (.npy, (T, 22, 3) metres, 20 fps).
The seed is printed: pass it back with --seed to get the same motions again."""

EDIT_EPILOG = """\
examples:
  keymask edit walk.bvh --keep 0-1.5s,3-4s "a person jumps" -o walk_jump.bvh
  keymask edit walk.bvh --keep 0-2s --extend 3s "the person sits down" -o walk_sit.bvh   # continue

Frames in --keep spans are copied from the input exactly; the rest is generated from the text
and joined without a jump. Spans are in seconds (0-1.5s) or frames (0-30)."""


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", type=Path, default=None,
                       help="a KeyMask model folder or official MoMask checkpoints (default: $KEYMASK_MODEL, "
                            "else the model shipped with KeyMask)")
    group.add_argument("--clip-weights", type=Path, default=os.environ.get("KEYMASK_CLIP_WEIGHTS"),
                       help="OpenAI CLIP ViT-B-32.pt, needed by official MoMask models ($KEYMASK_CLIP_WEIGHTS)")
    group.add_argument("--backend", choices=("auto", "numpy", "torch"), default="auto",
                       help="what runs the models: numpy starts fast (no torch import), torch runs official "
                            "checkpoints; auto picks numpy for KeyMask model folders (default: %(default)s)")
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    sampling.add_argument("--steps", type=int, default=SamplingSettings.steps,
                          help="masked-decoding iterations (default: %(default)s)")
    sampling.add_argument("--guidance", type=float, default=SamplingSettings.guidance_scale,
                          help="how strongly to follow the text (classifier-free guidance, default: %(default)s)")
    sampling.add_argument("--residual-guidance", type=float, default=SamplingSettings.residual_guidance_scale,
                          help="guidance of the finer token layers; 1 runs them without the unconditional "
                               "pass (faster), the official code uses 5 (default: %(default)s)")
    sampling.add_argument("--action-pull", type=float, default=SamplingSettings.action_pull,
                          help="how far each prompt is pulled toward the captions of the trained action it reads as, so that "
                               "unseen wordings are understood; 0 follows the words alone (default: %(default)s)")
    sampling.add_argument("--exemplar-share", type=float, default=SamplingSettings.exemplar_share,
                          help="share of the motion held to a real training clip of the action the prompt reads as, "
                               "from the clips whose captions are nearest it (the seed picks one); 1 plays that clip "
                               "as the tokenizer encodes it, 0 makes the motion from the words alone "
                               "(default: %(default)s)")
    sampling.add_argument("--temperature", type=float, default=SamplingSettings.temperature,
                          help="sampling temperature; 0 takes the most likely token (default: %(default)s)")
    sampling.add_argument("--residual-temperature", type=float, default=SamplingSettings.residual_temperature,
                          help="sampling temperature of the finer token layers; 0 takes the most likely token "
                               "(default: the --temperature)")
    sampling.add_argument("--topk", type=float, default=SamplingSettings.topk_filter_thres,
                          help="top-k filter threshold: keep the top (1 - topk) share of tokens (default: %(default)s)")
    sampling.add_argument("--residual-topk", type=float, default=SamplingSettings.residual_topk_filter_thres,
                          help="the same for the finer token layers (default: the --topk)")
    sampling.add_argument("--greedy", action="store_true", help="no randomness: always the most likely token")
    sampling.add_argument("--sample-length", action="store_true",
                          help="draw the length from the length estimator, so it changes with the seed (MoMask's "
                               "way); by default it is the estimator's median for the prompt")
    sampling.add_argument("--keep-side", action="store_true",
                          help="keep a motion that moves the other hand or leg than the prompt names; by default it "
                               "is replaced by its mirror image (\"waves with the left hand\" moves the left hand)")
    output = parser.add_argument_group("output")
    output.add_argument("-o", "--output", type=Path, default=Path("motion.bvh"),
                        help="BVH path; several motions get _NN suffixes (default: %(default)s)")
    output.add_argument("--units", choices=("m", "cm"), default="m", help="BVH units (default: %(default)s)")
    output.add_argument("--order", default="ZXY", type=rotation_order,
                        help="BVH Euler rotation order (default: %(default)s)")
    output.add_argument("--rig", default=None, metavar="RIG.bvh",
                        help="write the BVH onto your own rig (Mixamo, Unreal-like, Rigify-like, CMU, ... names; "
                             "its hierarchy, rest offsets, units and axes); the motion takes its proportions")
    output.add_argument("--rig-mapping", type=Path, default=None, metavar="JSON",
                        help="joint mapping for a rig the name tables do not know: {\"pelvis\": \"their_hips\", ...}")
    output.add_argument("--hand-pose", choices=("relaxed", "fist", "open", "point"), default="relaxed",
                        help="the fingers of a --rig that has them (default: %(default)s)")
    output.add_argument("--preview", action="store_true", help="also write a stick-figure GIF beside the BVH")
    output.add_argument("--sheet", type=Path, default=None, metavar="PNG",
                        help="also write a contact sheet: 8 stills of every motion, one row each")


def add_parser(subparsers) -> None:
    generate = subparsers.add_parser(
        "generate", help="text -> 3D motion (BVH + joints)",
        description="Generate 3D human motion from text with MoMask's masked token decoding.",
        epilog=GENERATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    generate.add_argument("prompt", nargs="?", default=None, help="what the person does, in plain English")
    generate.add_argument("--prompts", type=Path, default=None, help="a file of prompts, one per line: text#frames")
    length = generate.add_mutually_exclusive_group()
    length.add_argument("--seconds", type=float, default=None, help="length in seconds (default: estimated from text)")
    length.add_argument("--frames", type=int, default=None, help="length in 20 fps frames")
    generate.add_argument("--samples", type=int, default=1, help="motions per prompt (default: %(default)s)")
    generate.add_argument("--resume", action="store_true",
                          help="with --prompts: skip the chunks of 32 prompts whose files are all written (run the "
                               "same command again, with its --seed, after an interruption)")
    generate.add_argument("--key-pose", action="append", default=[], metavar="FILE@TIME[:root][:hold=S][:ease=S]",
                          help="a pose the motion passes through at TIME (repeatable), e.g. pose.json@1.5s:hold=0.3")
    generate.add_argument("--body", default="keys", metavar="BODY",
                          help="whose proportions the motion is delivered on: 'keys' (the first 3D key pose file's, "
                               "else the model's; default), 'model', a preset (average, bandai-actor, hdm05-actor, "
                               "cmu-actor), a 3D key pose .json, or a rig .bvh (its rest pose) or rig.bvh@FRAME")
    generate.add_argument("--path", type=Path, default=None, metavar="PATH.json",
                          help="a root path on the floor for the pelvis to follow: {\"format\": \"keymask-path\", "
                               "\"points\": [[x, z], ...], \"times\": [seconds, ...] (optional)}")
    generate.add_argument("--body-mapping", type=Path, default=None, metavar="JSON",
                          help="joint mapping for a --body rig the joint-name tables do not know (our joint -> yours)")
    generate.add_argument("--no-cleanup", action="store_true",
                          help="keep the decoder's raw joints: no smoothing, rigid bones or foot locking")
    _add_model_options(generate)
    generate.set_defaults(run=run_generate)

    edit = subparsers.add_parser(
        "edit", help="regenerate parts of a motion from new text",
        description="Keep chosen spans of a motion and regenerate the rest from text (temporal inpainting), "
                    "or continue it past its end.",
        epilog=EDIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    edit.add_argument("input", type=Path, help="the motion: a .bvh (KeyMask or Bandai skeleton) or joints .npy")
    edit.add_argument("prompt", help="what the regenerated parts should show")
    edit.add_argument("--keep", required=True, help="spans to keep, e.g. 0-1.5s,3-4s (seconds) or 0-30 (frames)")
    edit.add_argument("--extend", default="0", help="continue past the end by this much, e.g. 2s or 40 (frames)")
    _add_model_options(edit)
    edit.set_defaults(run=run_edit)


def read_prompt_file(path: Path) -> list[tuple[str, int | None]]:
    """MoMask's prompt files: `text#frames` a line (`text` alone or `text#NA`: length estimated);
    a line starting with `#` is a comment."""

    if not path.exists():
        raise FileNotFoundError(f"The prompt file {path} does not exist.")
    prompts = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        text, _, length = line.rpartition("#") if "#" in line else (line, "", "")
        if length and length.upper() != "NA":
            try:
                frames = int(length)
            except ValueError:
                raise CommandError(f"{path}, line {number}: the length after '#' must be whole frames, got {length!r}.")
        else:
            frames = None
        prompts.append((text.strip(), frames))
    if not prompts:
        raise CommandError(f"{path} holds no prompts.")
    return prompts


def load_pipeline(model: Path | None, clip_weights: Path | None = None, backend: str = "auto"):
    """The pipeline of `model`, else $KEYMASK_MODEL, else the shipped default."""
    from keymask.core.generation.pipeline import MotionPipeline
    from keymask.resources import RESOURCES_DIR

    folder = model or (Path(os.environ["KEYMASK_MODEL"]) if os.environ.get("KEYMASK_MODEL") else None)
    if folder is None:
        default = RESOURCES_DIR / "models" / "default"
        if not (default / "keymask_model.json").exists():
            raise CommandError(f"The shipped default model is missing from {default}: reinstall KeyMask, or pass "
                               "--model with a KeyMask model folder or official MoMask checkpoints.")
        folder = default
    return MotionPipeline.from_folder(folder, clip_weights=clip_weights, backend=backend)


SAMPLING_FLAGS = {"steps": "--steps", "guidance_scale": "--guidance", "residual_guidance_scale": "--residual-guidance",
                  "residual_temperature": "--residual-temperature", "temperature": "--temperature",
                  "topk_filter_thres": "--topk", "residual_topk_filter_thres": "--residual-topk",
                  "action_pull": "--action-pull", "exemplar_share": "--exemplar-share"}


def sampling_error(error: ValueError) -> CommandError:
    """SamplingSettings' sentence about a bad value, naming the command line's flag instead of the field."""
    field, _, rest = str(error).partition(" ")
    return CommandError(f"{SAMPLING_FLAGS.get(field, field)} {rest}")


def _settings(args):
    try:
        return SamplingSettings(steps=args.steps, guidance_scale=args.guidance,
                                residual_guidance_scale=args.residual_guidance, temperature=args.temperature,
                                residual_temperature=args.residual_temperature, topk_filter_thres=args.topk,
                                residual_topk_filter_thres=args.residual_topk, greedy=args.greedy,
                                sample_length=args.sample_length, action_pull=args.action_pull,
                                exemplar_share=args.exemplar_share,
                                mirror_to_named_side=not args.keep_side)
    except ValueError as error:
        raise sampling_error(error) from None


def _progress_bar():
    from tqdm import tqdm

    bar = tqdm(total=0, unit="step", disable=not sys.stderr.isatty(), leave=False)

    def update(stage: str, done: int, total: int) -> None:
        bar.set_description(stage)
        if done == 1:
            bar.total += total
        bar.update(1)

    return bar, update


def run_generate(args) -> int:
    import numpy as np

    from keymask.core.fileio import ensure_output_dir
    from keymask.core.generation.cleanup import CleanupSettings
    from keymask.core.generation.composition import Request, check_requests, generate_requests, plan_notes
    from keymask.core.generation.export import export_contact_sheet, export_motion, export_preview, output_paths
    from keymask.core.generation.sides import named_limb
    from keymask.core.text.prompts import clean_prompts

    if (args.prompt is None) == (args.prompts is None):
        raise CommandError("Give one prompt in quotes or --prompts FILE (not both).")
    if args.samples < 1:
        raise CommandError("--samples must be at least 1.")
    ensure_output_dir(args.output.parent if str(args.output.parent) else Path("."))
    pipeline = load_pipeline(args.model, args.clip_weights, args.backend)
    fps = pipeline.spec.fps
    rig = load_rig(args)
    path = _path(args)
    if args.key_pose:
        return _generate_with_keys(args, pipeline, rig, path)
    if args.prompts:
        entries = read_prompt_file(args.prompts)
    else:
        frames = args.frames if args.seconds is None else int(round(args.seconds * fps))
        if frames is None and path is not None:
            frames = path.frames_needed(fps, pipeline.spec.frames_per_token) or None
        entries = [(args.prompt, frames)]
    if path is not None:  # refused before any generation where the lengths are known
        from keymask.conditioning.paths import check_path

        for _, frames in entries:
            if frames is not None:
                check_path(path, int(round(frames / pipeline.spec.frames_per_token)) * pipeline.spec.frames_per_token, fps)
    body = rig.body if rig is not None else _body(args, [])
    settings = _settings(args)
    cleanup = None if args.no_cleanup else CleanupSettings()
    cleaned = clean_prompts([p for p, _ in entries])
    entries = [(text, frames) for text, (_, frames) in zip(cleaned, entries)]
    distinct = list(dict.fromkeys(p for p, _ in entries))
    embeddings = dict(zip(distinct, pipeline.encode_text(distinct)))  # (text_dim,) per prompt, encoded once
    unknown = {check.prompt: check for check in pipeline.check_prompts(distinct, np.stack(list(embeddings.values())))
               if not check.known}
    for check in unknown.values():
        print(f"keymask: warning: {check.warning()}", file=sys.stderr)

    rank, world = _shard()
    if world > 1 and (args.prompts is None or args.seed is None or args.preview or args.sheet):
        raise CommandError("Under torchrun, give a --prompts file and a --seed (the processes share the file's lines "
                           "and each chunk's seed follows from it), and leave out --preview and --sheet.")
    seed = args.seed if args.seed is not None else secrets.randbits(31)
    samples = args.samples
    paths = output_paths(args.output, len(entries) * samples)
    chunks = [range(start, min(start + PROMPTS_PER_CHUNK, len(entries)))
              for start in range(0, len(entries), PROMPTS_PER_CHUNK)]
    chunk_requests = [[Request(*entries[i]) for i in chunk] for chunk in chunks]
    for requests in chunk_requests:  # every chunk is checked before the first is made
        check_requests(pipeline, requests, samples)
    mine = [k for k in range(len(chunks)) if k % world == rank]
    if args.resume:
        mine = [k for k in mine if not all(_written(paths[i * samples + s]) for i in chunks[k] for s in range(samples))]
        if not mine:
            print(f"keymask: every motion{' of this process' if world > 1 else ''} is already written; nothing to do.")
            return 0
    motions = []  # (prompt, joints), kept for --preview and --sheet
    sources: set[str] = set()  # of the training clips the motions are made from
    bar, progress = _progress_bar()
    for k in mine:
        generated = generate_requests(pipeline, chunk_requests[k], samples=samples, seed=seed + k, settings=settings,
                                      cleanup=cleanup, progress=progress, embeddings=embeddings)
        for note in plan_notes(generated):
            print(f"keymask: {note}", file=sys.stderr)
        chunk_paths = [paths[i * samples + s] for i in chunks[k] for s in range(samples)]
        for motion, out in zip(generated.motions, chunk_paths):
            joints = motion.joints if body is None and path is None else _delivered(motion.joints, body, path)
            written, _ = export_motion(joints, out, fps=fps, units=args.units, rotation_order=args.order.upper(),
                                       rig=rig, hand_pose=args.hand_pose)
            bar.write(f"{written[0]}  ({len(joints) / fps:.1f} s) {motion.prompt}")
            sources.update(motion.sources)
            if motion.mirrored:
                side, limb = named_limb(motion.prompt) or ("named", "side")
                bar.write(f"keymask: {written[0].name} is mirrored left for right, so that the {side} {limb} moves as "
                          "the prompt says (--keep-side keeps the motion as made).", file=sys.stderr)
            if args.preview or args.sheet:
                motions.append((motion.prompt, joints))
        if len(mine) > 1 and not sys.stderr.isatty():  # logs of long runs get a line per chunk instead of a bar
            print(f"keymask: chunk {mine.index(k) + 1} of {len(mine)} written", file=sys.stderr, flush=True)
    bar.close()
    if sources:
        print(f"keymask: {pipeline.exemplars.credit_sentence(sources)} (--exemplar-share 0: from the words alone)",
              file=sys.stderr)
    if args.preview:
        gif = export_preview(motions, args.output.with_suffix(".gif"), fps=fps)
        print(f"preview: {gif}")
    if args.sheet:
        titled = [(f"{prompt}  [not learned; nearest: {unknown[prompt].nearest_actions[0]}]" if prompt in unknown
                   else prompt, joints) for prompt, joints in motions]
        print(f"contact sheet: {export_contact_sheet(titled, args.sheet)}")
    print(f"seed: {seed}" + (f" (chunks of {PROMPTS_PER_CHUNK} prompts take seed + their number)" if len(chunks) > 1 else ""))
    return 0


PROMPTS_PER_CHUNK = 32  # prompts made and written together: progress shows on disk, --resume skips whole chunks


def _shard() -> tuple[int, int]:
    """(rank, world size) of this process when torchrun starts several (RANK, WORLD_SIZE), else (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world) if world > 1 else (0, 1)


def _written(bvh: Path) -> bool:
    return bvh.exists() and bvh.with_suffix(".npy").exists()


KEY_TIMING_OPTIONS = ("hold", "ease", "ease_in", "ease_out")


def parse_key_pose(text: str, fps: float) -> tuple[Path, int, dict]:
    """'pose.json@1.5s[:root][:hold=0.3][:ease=0.5]' -> (file, frame, KeyFrame options).

    TIME is seconds (1.5s) or frames (30); hold and eases are seconds (0.3 or 0.3s).
    """

    path, at, rest = text.rpartition("@")
    when, *options = rest.split(":")
    usage = (f"Cannot read --key-pose {text!r}: write FILE@TIME[:root][:hold=S][:ease=S], e.g. pose.json@1.5s "
             "(seconds) or pose.json@30 (frames); :root also holds its position and facing, hold and ease are seconds.")
    frame = _time_to_frames(when, fps, frames_allowed=True)
    if not at or not path or frame is None:
        raise CommandError(usage)
    settings: dict = {"constrain": "body"}
    for option in options:
        name, equals, value = option.partition("=")
        if option == "root":
            settings["constrain"] = "root"
        elif equals and name in KEY_TIMING_OPTIONS and _time_to_frames(value, fps) is not None:
            frames = _time_to_frames(value, fps)
            if name == "ease":
                settings["ease_in"] = settings["ease_out"] = frames
            else:
                settings[name] = frames
        else:
            raise CommandError(usage)
    return Path(path), frame, settings


def _time_to_frames(text: str, fps: float, frames_allowed: bool = False) -> int | None:
    """'1.5s' or '1.5' (seconds) -> frames; a bare integer is frames where `frames_allowed`."""
    try:
        if text.endswith("s"):
            return int(round(float(text[:-1]) * fps))
        return int(text) if frames_allowed else int(round(float(text) * fps))
    except ValueError:
        return None


def _path(args):
    """The --path to follow, or None."""
    from keymask.conditioning.paths import read_path

    return None if getattr(args, "path", None) is None else read_path(args.path)


def _delivered(joints, body, path):
    """The motion on `body`, its pelvis on `path`."""
    from keymask.conditioning.keyed_generation import refine_motion

    return refine_motion(joints, [], body=body, path=path).astype(joints.dtype)


def _generate_with_keys(args, pipeline, rig, path) -> int:
    import numpy as np

    from keymask.conditioning.keyed_generation import KEYED_CLEANUP, KeyFrame, generate_with_key_poses, read_key_pose
    from keymask.core.generation.export import export_motion, export_preview, output_paths

    if args.prompts:
        raise CommandError("--key-pose goes with one prompt, not --prompts.")
    spec = pipeline.spec
    parsed = [parse_key_pose(text, spec.fps) for text in args.key_pose]
    keys = [KeyFrame(read_key_pose(path), frame, **options) for path, frame, options in parsed]
    last = max(k.frame + k.hold for k in keys)
    if args.frames is not None or args.seconds is not None:
        frames = args.frames if args.seconds is None else int(round(args.seconds * spec.fps))
    else:  # at least 4 s, a second past the last key (chained windows past one window), the path's duration
        frames = max(4 * spec.fps, last + spec.fps)
        if path is not None:
            frames = max(frames, path.frames_needed(spec.fps, spec.frames_per_token))
    if path is not None:
        from keymask.conditioning.paths import check_path

        check_path(path, int(round(frames / spec.frames_per_token)) * spec.frames_per_token, spec.fps)
    body = rig.body if rig is not None else _body(args, keys)
    bar, progress = _progress_bar()
    result = generate_with_key_poses(pipeline, [args.prompt], [keys], frames=frames, samples=args.samples,
                                     seed=args.seed, settings=_settings(args), body=body, path=path,
                                     cleanup=None if args.no_cleanup else KEYED_CLEANUP, progress=progress)
    bar.close()
    motions = [(m.prompt, m.joints) for m in result.motions]
    for (prompt, joints), path in zip(motions, output_paths(args.output, len(motions))):
        written, _ = export_motion(joints, path, fps=spec.fps, units=args.units, rotation_order=args.order.upper(),
                                   rig=rig, hand_pose=args.hand_pose)
        print(f"{written[0]}  ({len(joints) / spec.fps:.1f} s, {len(keys)} key poses) {prompt}")
    if args.preview:
        print(f"preview: {export_preview(motions, args.output.with_suffix('.gif'), fps=spec.fps)}")
    print(f"seed: {result.seed}")
    return 0


def load_rig(args):
    """The --rig to export onto, or None; one sentence when it cannot be used."""

    if not getattr(args, "rig", None):
        return None
    from keymask.core.mocap.rig_export import read_rig

    if getattr(args, "body", "keys") != "keys":
        raise CommandError("--rig brings its own proportions: leave out --body.")
    return read_rig(args.rig, mapping=args.rig_mapping)


def _body(args, keys):
    """The body the motion is delivered on (None: the model's): --body, by default "keys", the key
    poses' own proportions (keyed_generation.body_of_keys)."""
    from keymask.conditioning.bodies import load_body
    from keymask.conditioning.keyed_generation import body_of_keys

    if args.body == "model":
        return None
    return body_of_keys(keys) if args.body == "keys" else load_body(args.body, mapping=args.body_mapping)


def run_edit(args) -> int:
    import numpy as np

    from keymask.core.bvh.convert import bvh_file_to_joints, check_joints
    from keymask.core.fileio import ensure_output_dir
    from keymask.core.generation.editing import edit_motion, parse_spans
    from keymask.core.generation.export import export_motion

    ensure_output_dir(args.output.parent if str(args.output.parent) else Path("."))
    if not args.input.exists():
        raise FileNotFoundError(f"The input motion {args.input} does not exist.")
    pipeline = load_pipeline(args.model, args.clip_weights, args.backend)
    fps = pipeline.spec.fps
    if args.input.suffix.lower() == ".npy":
        source = check_joints(np.load(args.input), str(args.input))
    else:
        source = bvh_file_to_joints(args.input, fps=fps)
    keep = parse_spans(args.keep, fps)
    extend = parse_spans(f"0-{args.extend}", fps)[0][1] if args.extend not in ("0", "0s", "") else 0
    bar, progress = _progress_bar()
    result = edit_motion(pipeline, source, args.prompt, keep, extend_frames=extend, seed=args.seed,
                         settings=_settings(args), progress=progress)
    bar.close()
    written, _ = export_motion(result.joints, args.output, fps=fps, units=args.units, rig=load_rig(args),
                               hand_pose=args.hand_pose,
                               rotation_order=args.order.upper(), reference_frames=result.kept)
    print(f"{written[0]}  ({len(result.joints) / fps:.1f} s, {int(result.kept.sum())} frames kept) {args.prompt}")
    print(f"seed: {result.seed}")
    return 0
