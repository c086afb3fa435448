"""Errors the command line reports as one sentence."""


class CommandError(Exception):
    """A command used the wrong way; the message says how to use it."""
