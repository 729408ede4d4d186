"""The command line: click commands, one module per command group, thin over the Python API.

Owns: argument parsing, human and ``--json`` output, progress bars, and mapping
``LooplineError`` to one red line and an exit code.

May import: every capability's public API, lazily inside commands so ``loopline --help``
stays fast. Nothing imports ``cli``.
"""

from loopline.cli._app import cli, main

__all__ = ["cli", "main"]
