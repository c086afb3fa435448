"""The base of every error KeyMask reports to a user in one sentence instead of a traceback.

- `KeyMaskError`: something the run could not do (a file that cannot be read, weights that are
  missing, a pose that cannot be found in a photo). The command line exits with 1.
- `UsageError`: the command or call was given input it cannot take (an empty prompt, a length out
  of range, options that do not go together). The command line exits with 2, as argparse does.

Each module's own errors derive from one of these, beside the built-in class callers may catch
(ValueError, OSError, RuntimeError).
"""


class KeyMaskError(Exception):
    """A failure at run time; the message is one sentence that says what and what to do."""


class UsageError(KeyMaskError):
    """Input or options the command cannot take; the message says how to use it."""
