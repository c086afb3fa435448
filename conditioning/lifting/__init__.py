"""Lifting 2D key poses to 3D: a small MLP trained on our own motion capture.

    projection.py    22 joints -> COCO-18 points, the canonical pose, random cameras, augmentation
    numpy_lifter.py  the lifter's input (normalised keypoints + presence), its config and the
                     torch-free numpy lifter
    model.py         the torch lifter (training, save_pretrained)
    lift.py          Pose2D -> KeyPose3D with the shipped lifter (no torch)
    train.py         training on the train split, seen through fresh random cameras every batch
    evaluate.py      P-MPJPE and root-relative MPJPE on a split, through fixed seeded cameras

Units: 3D in metres, Y up, the canonical body faces +Z with its left on +X (core/skeleton.py);
2D in pixels, x right, y down (conditioning/poses.py).
"""
