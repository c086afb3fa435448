"""Errors the command line reports as one sentence."""

from keymask.core.errors import UsageError


class CommandError(UsageError):
    """A command used the wrong way; the message says how to use it."""


def rotation_order(text: str) -> str:
    """An argparse type: a BVH Euler order such as ZXY (any case), refused in one sentence before any work."""
    import argparse

    order = text.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise argparse.ArgumentTypeError(f"'{text}' is not a rotation order: give a permutation of XYZ such as ZXY")
    return order
