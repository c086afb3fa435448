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


# Modules of the optional installs, and the extra that brings each (pyproject.toml).
_EXTRA_OF_MODULE = {"torch": "train", "torchvision": "train", "clip": "train", "diffusers": "imagine",
                    "transformers": "imagine", "controlnet_aux": "imagine"}


def missing_extra(error: ImportError) -> str | None:
    """One sentence naming the install command when `error` is a module of an optional install."""
    name = (getattr(error, "name", None) or "").split(".")[0]
    extra = _EXTRA_OF_MODULE.get(name)
    if extra is None:
        return None
    what = "training, evaluation, official checkpoints and CLIP" if extra == "train" else "imagined key poses"
    return (f"{what[0].upper() + what[1:]} need {name}, which the base install leaves out: "
            f"pip install 'keymask-studio[{extra}]' (or -e '.[{extra}]' in a clone).")
