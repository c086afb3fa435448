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


def _number_within(text: str, low: float, high: float, refusal: str) -> float:
    """An argparse type's check: text as a number from low to high (inclusive), else one sentence."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"'{text}' {refusal}")
    return value


def share(text: str) -> float:
    """An argparse type: a share of the data, a number from 0 to 1, refused in one sentence before any work."""
    return _number_within(text, 0.0, 1.0, "is not a share: give a number from 0 to 1, such as 0.5")


def power(text: str) -> float:
    """An argparse type: an exponent from 0 up (0 turns its effect off), refused in one sentence before any work."""
    return _number_within(text, 0.0, float("inf"), "is not a power: give a number from 0 up, such as 0.5")
