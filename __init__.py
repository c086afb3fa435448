"""KeyMask Studio: text and key poses to 3D human animation.

The subpackages live in the repository's top-level folders (pyproject.toml's package-dir):
``keymask.core`` in ``core/``, ``keymask.conditioning`` in ``conditioning/``, ``keymask.studio``
in ``studio/``, ``keymask.cli`` in ``cli/`` and ``keymask.resources`` in ``resources/``. Data
flows one way: studio and cli use conditioning and core; conditioning uses core.
"""

__version__ = "0.1.0"
