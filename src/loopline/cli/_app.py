"""The ``loopline`` command group: global options, lazy subcommands, errors mapped to exit codes."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from loopline import __version__
from loopline.core.errors import LooplineError

__all__ = ["cli", "main"]

# name -> (module, attribute): imported only when the command runs or help lists it.
_COMMANDS = {
    "init": ("loopline.cli.data", "init_command"),
    "add": ("loopline.cli.data", "add_command"),
    "status": ("loopline.cli.data", "status_command"),
    "checkout": ("loopline.cli.data", "checkout_command"),
    "push": ("loopline.cli.transfer", "push_command"),
    "pull": ("loopline.cli.transfer", "pull_command"),
    "fetch": ("loopline.cli.transfer", "fetch_command"),
    "commit": ("loopline.cli.manage", "commit_command"),
    "move": ("loopline.cli.manage", "move_command"),
    "import-dvc": ("loopline.cli.dvc_import", "import_dvc_command"),
    "remove": ("loopline.cli.manage", "remove_command"),
    "gc": ("loopline.cli.data", "gc_command"),
    "diff": ("loopline.cli.data", "diff_command"),
    "versions": ("loopline.cli.data", "versions_command"),
    "remote": ("loopline.cli.remote", "remote_group"),
    "experiments": ("loopline.cli.tracking", "experiments_group"),
    "runs": ("loopline.cli.tracking", "runs_group"),
    "models": ("loopline.cli.models", "models_group"),
    "server": ("loopline.cli.server", "server_command"),
    "repro": ("loopline.cli.pipeline", "repro_command"),
    "dag": ("loopline.cli.pipeline", "dag_command"),
    "params": ("loopline.cli.pipeline", "params_group"),
    "metrics": ("loopline.cli.pipeline", "metrics_group"),
    "serve": ("loopline.cli.serve", "serve_command"),
    "feedback": ("loopline.cli.serve", "feedback_command"),
    "kfp": ("loopline.cli.kfp", "kfp_group"),
    "abtest": ("loopline.cli.abtest", "abtest_group"),
    "deploy": ("loopline.cli.deploy", "deploy_group"),
    "rollout": ("loopline.cli.rollout", "rollout_group"),
    "k8s": ("loopline.cli.k8s", "k8s_group"),
    "monitor": ("loopline.cli.monitor", "monitor_group"),
}


class SuggestingGroup(click.Group):
    """A group whose "No such command" names the closest commands (``comit`` → ``commit``)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            import difflib

            name = args[0] if args else ""
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if not close or name.startswith("-"):
                raise
            raise click.UsageError(
                f"{exc.message} Did you mean {' or '.join(repr(c) for c in close)}?", ctx
            ) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``--stauts``: a mistyped option that is closer to a command names the command."""
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            import difflib

            word = exc.option_name.lstrip("-")
            commands = difflib.get_close_matches(word, self.list_commands(ctx), n=3, cutoff=0.7)
            if not commands:
                raise
            close = " or ".join(repr(c) for c in commands)
            raise click.UsageError(
                f"No such option {exc.option_name!r}. Did you mean the command {close}?",
                ctx,
            ) from None


class LazyGroup(SuggestingGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        module, attribute = _COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        if type(command) is click.Group:  # subcommand groups suggest too (a method, no state)
            command.__class__ = SuggestingGroup
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="loopline")
@click.option(
    "-C", "directory", type=click.Path(file_okay=False), help="Run as if started in this folder."
)
@click.option("-v", "--verbose", count=True, help="Log more (repeat for debug output).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a setting for this command, e.g. --set core.jobs=4.",
)
@click.pass_context
def cli(
    ctx: click.Context, directory: str | None, verbose: int, overrides: tuple[str, ...]
) -> None:
    """Loopline: version data, run pipelines, track experiments, serve and roll out models.

    Data versioning works like DVC: `loopline add` stores files in a content-addressed cache
    and writes a small `.loopline` pointer file for git; `push`/`pull` exchange data with a
    remote (a folder, S3, HTTP).
    """
    if directory:
        os.chdir(directory)
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = {"overrides": _parse_overrides(overrides)}


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, Any]:
    from loopline.core.config import check_setting_name

    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or "." not in key:
            raise click.BadParameter(
                f"{pair!r} is not KEY=VALUE with a dotted key", param_hint="--set"
            )
        check_setting_name(key.strip())
        found[key.strip()] = value
    return found


_INTERRUPTED = "interrupted: nothing half-written was kept; run the command again to finish"


def _interrupted(exc: KeyboardInterrupt) -> str:
    """What a command that cleaned up after Ctrl-C says it did, or the common line."""
    said = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    return f"interrupted: {said}" if said else _INTERRUPTED


def main(argv: list[str] | None = None) -> None:
    """Entry point: one red line and a meaningful exit code instead of a traceback."""
    import signal

    from loopline.core.interrupts import stop_once

    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:  # not when SIGINT is ignored (background job)
        signal.signal(signal.SIGINT, stop_once)  # a second Ctrl-C cannot cut the clean-up
    _main(argv)  # on the way out (sys.exit) Ctrl-C stays quiet until the process has ended
    if previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, previous)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="loopline", standalone_mode=False)
    except LooplineError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo(_interrupted(exc.__cause__), err=True)
        else:
            click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        click.echo(_interrupted(exc), err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except OSError as exc:
        click.secho(
            f"error: {exc.strerror or exc} ({exc.filename or 'no file'})", fg="red", err=True
        )
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("LOOPLINE_DEBUG"):
            raise
        click.secho(f"internal error: {type(exc).__name__}: {exc}", fg="red", err=True)
        click.echo("hint: rerun with LOOPLINE_DEBUG=1 for the traceback and report it", err=True)
        sys.exit(70)
