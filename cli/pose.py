"""`keymask pose`: key poses from photos, files and generated images; lifting them to 3D; pictures."""

import argparse
from pathlib import Path

EPILOG = """\
examples:
  keymask pose extract photo.jpg -o pose.json --preview pose.png      # photo -> OpenPose JSON (COCO-18)
  keymask pose extract group.jpg --person 2 -o pose.json              # several people: 1 = leftmost
  keymask pose lift pose.json -o pose3d.json --preview lift.png       # 2D -> 3D key pose (22 joints)
  keymask pose render pose.json -o skeleton.png                       # the skeleton in OpenPose colours
  keymask pose imagine "a dancer in arabesque" --sd ~/models/sd15 -o pose.json --image dancer.png
  keymask generate "a person jumps" --key-pose pose.json@1.5s --key-pose other.json@3s -o out.bvh

Pose files are OpenPose JSON (what OpenPose and the Stable Diffusion pose editors save; see
docs/pose_formats.md) or KeyMask's 3D key pose JSON. Nothing is downloaded: the photo extractor's
model ships with mediapipe, and Stable Diffusion, ControlNet and OpenPose weights are read from the
folders you name."""


def add_parser(subparsers) -> None:
    pose = subparsers.add_parser("pose", help="key poses: extract from a photo, lift to 3D, render, imagine",
                                 description="Make key poses for `keymask generate --key-pose`.", epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = pose.add_subparsers(dest="pose_command", metavar="ACTION", required=True)

    extract = actions.add_parser("extract", help="photo -> 2D pose (OpenPose JSON)",
                                 description="Find the person in a photo and write their COCO-18 skeleton.")
    extract.add_argument("image", type=Path, help="a photo (JPEG, PNG, ...)")
    extract.add_argument("-o", "--output", type=Path, required=True, help="pose JSON to write")
    extract.add_argument("--person", type=int, default=None, help="which person when there are several (1 = leftmost)")
    extract.add_argument("--preview", type=Path, default=None, metavar="PNG", help="also write the skeleton over a "
                         "black canvas in OpenPose colours")
    extract.set_defaults(run=run_extract)

    lift = actions.add_parser("lift", help="2D pose -> 3D key pose",
                              description="Lift a 2D pose to the 22-joint 3D key pose generation uses (metres, "
                                          "pelvis at the origin, facing +Z), with the lifter trained on our mocap.")
    lift.add_argument("pose", type=Path, help="a 2D pose JSON")
    lift.add_argument("-o", "--output", type=Path, required=True, help="3D key pose JSON to write")
    lift.add_argument("--person", type=int, default=None, help="which person in a file holding several (1 = first)")
    lift.add_argument("--mirror", action="store_true",
                      help="lift the other reading of a pose without face points: facing away instead of towards "
                           "the camera (a 2D skeleton alone cannot tell them apart)")
    lift.add_argument("--preview", type=Path, default=None, metavar="PNG",
                      help="also write the 2D input beside the 3D skeleton (front and side)")
    lift.set_defaults(run=run_lift)

    render = actions.add_parser("render", help="2D pose -> PNG in OpenPose colours",
                                description="Draw a 2D pose as OpenPose draws it (what ControlNet-OpenPose reads).")
    render.add_argument("pose", type=Path, help="a 2D pose JSON")
    render.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    render.add_argument("--person", type=int, default=None, help="which person in a file holding several (1 = first)")
    render.set_defaults(run=run_render)

    imagine = actions.add_parser("imagine", help="text -> image (Stable Diffusion) -> 2D pose",
                                 description="Generate an image with Stable Diffusion and read the pose from it "
                                             "(OpenPose, or the photo extractor without OpenPose weights).")
    imagine.add_argument("prompt", help="the pose in words, e.g. \"a dancer in arabesque, full body\"")
    imagine.add_argument("-o", "--output", type=Path, required=True, help="pose JSON to write")
    imagine.add_argument("--sd", type=Path, required=True, help="a local diffusers Stable Diffusion 1.5 folder")
    imagine.add_argument("--openpose", type=Path, default=None, help="folder with body_pose_model.pth")
    imagine.add_argument("--controlnet", type=Path, default=None,
                         help="a ControlNet-OpenPose folder: also draw a character in the found pose (--character)")
    imagine.add_argument("--image", type=Path, default=None, metavar="PNG", help="also write the generated image")
    imagine.add_argument("--character", type=Path, default=None, metavar="PNG",
                         help="with --controlnet: write the character rendered in the pose")
    imagine.add_argument("--steps", type=int, default=25, help="denoising steps (default: %(default)s)")
    imagine.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    imagine.set_defaults(run=run_imagine)


def run_extract(args) -> int:
    from keymask.conditioning.photo import extract_pose, native_logs_silenced
    from keymask.conditioning.pose_files import write_pose2d
    from keymask.conditioning.render import render_openpose, save_png

    with native_logs_silenced():
        pose = extract_pose(args.image, person=args.person)
    write_pose2d(args.output, pose)
    found = int(pose.present.sum())
    print(f"{args.output}  ({found} of 18 joints found, canvas {pose.canvas[0]}x{pose.canvas[1]})")
    if args.preview:
        save_png(render_openpose(pose), args.preview)
        print(f"preview: {args.preview}")
    return 0


def run_lift(args) -> int:
    import sys

    from keymask.conditioning.lifting.lift import is_ambiguous, lift_pose
    from keymask.conditioning.pose_files import read_pose2d, write_keypose3d
    from keymask.conditioning.render import render_pose_preview, save_png

    pose2d = read_pose2d(args.pose, person=args.person)
    pose3d = lift_pose(pose2d, mirror=args.mirror)
    if is_ambiguous(pose2d):
        reading, other = ("away from", "towards") if args.mirror else ("towards", "away from")
        print(f"keymask: warning: {args.pose} has no nose, eye or ear, so the body could face the camera or away from "
              f"it; lifted as facing {reading} the camera ({'leave out' if args.mirror else 'add'} --mirror for "
              f"{other}).", file=sys.stderr)
    write_keypose3d(args.output, pose3d)
    print(f"{args.output}  (22 joints, metres, pelvis at the origin, facing +Z)")
    if args.preview:
        save_png(render_pose_preview(pose2d, pose3d, title=args.pose.name), args.preview)
        print(f"preview: {args.preview}")
    return 0


def run_render(args) -> int:
    from keymask.conditioning.pose_files import read_pose2d
    from keymask.conditioning.render import render_openpose, save_png

    save_png(render_openpose(read_pose2d(args.pose, person=args.person)), args.output)
    print(args.output)
    return 0


def run_imagine(args) -> int:
    from keymask.cli.errors import CommandError
    from keymask.conditioning.imagine import imagine_pose
    from keymask.conditioning.pose_files import write_pose2d
    from keymask.conditioning.render import save_png

    if args.character and not args.controlnet:
        raise CommandError("--character needs --controlnet (a ControlNet-OpenPose folder).")
    imagined = imagine_pose(args.prompt, sd_dir=args.sd, openpose_dir=args.openpose, controlnet_dir=args.controlnet,
                            steps=args.steps, seed=args.seed)
    if not imagined.pose.present.any():
        raise CommandError(f"No person was found in the image generated for \"{args.prompt}\": try another seed or "
                           "ask for a full-body view.")
    write_pose2d(args.output, imagined.pose)
    print(f"{args.output}  ({int(imagined.pose.present.sum())} of 18 joints found)")
    if args.image:
        save_png(imagined.image, args.image)
        print(f"image: {args.image}")
    if args.character and imagined.character is not None:
        save_png(imagined.character, args.character)
        print(f"character: {args.character}")
    return 0
