"""Shared pieces of the command line: the Typer app, the consoles, the error wrapper."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # typer >= 0.22 parses with its own copy of click; older typer uses click itself
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:
    from click.exceptions import NoArgsIsHelpError, UsageError

from deeprecipe._io import os_error_message
from deeprecipe._validation import check_int, check_workers
from deeprecipe.errors import DeepRecipeError
from deeprecipe.runs import rundir


def usage_error_line(exc: UsageError) -> str:
    """One line for click's usage error: the command, the option and what it expected.

    >>> usage_error_line(UsageError("No such option: --bogus"))
    'error: No such option: --bogus'
    """
    message = " ".join(exc.format_message().split()).rstrip(".")  # one line, whatever it quotes
    cause = getattr(exc.__cause__, "errors", None)  # typer's pydantic check keeps the input
    if callable(cause) and (errors := cause()) and "input" in errors[0]:
        message += f"; got {errors[0]['input']!r}"
    if exc.ctx is None:
        return f"error: {message}"
    path = exc.ctx.command_path
    return f"error: {path}: {message} (see {path} --help)"


class _OneLineGroup(TyperGroup):
    """The command group whose usage errors (a wrong option type, an unknown option, a missing
    argument) print one line on stderr and exit 2, like every other user error."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except NoArgsIsHelpError:  # a bare `deeprecipe` shows the help
            raise
        except UsageError as exc:
            _usage_exit(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            _usage_exit(exc)


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (a line break, a tab, a control
    character such as the record separator \\x1e a CSV header may hold) written as its escape,
    so that an error stays one line whatever names or paths it quotes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _fail(message: str, code: int = 2):
    err.print(one_line(message), markup=False, soft_wrap=True)
    raise typer.Exit(code) from None


def _usage_exit(exc: UsageError):
    if _STATE["debug"]:
        raise exc
    _fail(usage_error_line(exc))


app = typer.Typer(cls=_OneLineGroup, add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  rich_markup_mode=None,  # plain click help: flags show no <bool> type
                  help="deeprecipe: improve deep neural networks with the basic recipe.\n\n"
                       "Start with `deeprecipe demo`, then `deeprecipe init my.toml` and "
                       "`deeprecipe run my.toml`.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
_STATE = {"debug": False, "quiet": False}

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables.")]
Force = Annotated[bool, typer.Option(
    "--force", help="Start over in a run directory that holds a run, recipe or babysat model "
                    "(its files are replaced); one that another process works in is refused "
                    "all the same.")]
TakeOver = Annotated[bool, typer.Option(  # resume, rollback: kept so old scripts still work
    "--force", help="Does nothing (kept for old scripts): a crashed babysit's leftover "
                    "'running' marker no longer needs it, and a directory that another "
                    "process works in is refused all the same.")]
OUT_HELP = "Run directory (default: runs/<name>; the only way to write elsewhere)."


def parse_out(value: str) -> Path:
    """``--out``'s parser: the path, refusing an empty one (an unset shell variable), which
    Path would read as the working directory and fill with the command's files."""
    if not value.strip():
        raise typer.BadParameter("is empty (an unset variable?); give a path, or leave --out "
                                 "out for the default")
    return Path(value)


def check_count(option: str, value: int | None, *, high: int | None = None) -> None:
    """Refuse a count option's value (None: not given) below 1 or above ``high`` in one shape,
    before anything is read: "--trials must be in [1, 100000], got 0"."""
    if value is not None:
        check_int(option, value, low=1, high=high)


def check_workers_option(value: int | None) -> None:
    """--workers (None: not given): at least 1 and at most 4 per CPU (``check_workers``)."""
    if value is not None:
        check_workers("--workers", value)


def parse_assignments(items: list[str]) -> dict:
    """{name: value} from NAME=VALUE strings, each value read as a TOML value (0.01, true)."""
    values = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise DeepRecipeError(f"--set takes NAME=VALUE, got {item!r}")
        try:
            values[name.strip()] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            raise DeepRecipeError(f"--set {item}: {text!r} is not a number, true/false or a "
                                  "quoted string") from None
    return values


def _command(fn):
    """Run a command body: user errors -> one line and exit 2; Ctrl-C -> exit 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DeepRecipeError as exc:
            if _STATE["debug"]:
                raise
            _fail(f"error: {exc}")
        except OSError as exc:  # read-only file system, full disk, a directory for a file...
            if _STATE["debug"]:
                raise
            _fail(f"error: {os_error_message(exc)}")
        except MemoryError as exc:
            if _STATE["debug"]:
                raise
            _fail(f"error: not enough memory ({exc or 'an allocation failed'}); use "
                  "smaller data or a smaller network")
        except KeyboardInterrupt as exc:  # the message already says "interrupted; ..."
            err.print(str(exc) or "interrupted", markup=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False
          ) -> None:
    _STATE["debug"] = debug


def _load(config_path: Path):
    from deeprecipe.runs.config import load_config  # loaded on use: keeps the CLI fast

    return load_config(config_path)


def _run_dir(config, out_dir: Path | None) -> Path:
    return out_dir if out_dir is not None else Path("runs") / config.name


def _fresh_dir(base: Path) -> Path:
    """``base``, or base-2, base-3, ... : the first that holds no run (nothing is overwritten)."""
    candidate, n = base, 1
    while (candidate / rundir.CONFIG).exists() or (candidate / rundir.MODEL_JSON).exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _print_result(result, quiet: bool) -> None:
    m = result.metrics
    if not quiet:
        from rich.table import Table  # loaded on use: keeps the CLI fast

        table = Table(title=f"run: {result.run_dir}")
        for col in ("", "train", "dev", "test"):
            table.add_column(col)
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        table.add_row("error", fmt(m["train_error"]), fmt(m["dev_error"]), fmt(m["test_error"]))
        table.add_row("cost", fmt(m["train_cost"]), fmt(m["dev_cost"]), fmt(m["test_cost"]))
        out.print(table)
    out.print(result.headline(), markup=False, soft_wrap=True)
    out.print(f"run directory: {result.run_dir}  report: {result.run_dir / 'report.html'}",
              markup=False, soft_wrap=True)



def _int_option(name: str, value: str) -> int:
    from deeprecipe.errors import ConfigError  # loaded on use: keeps the CLI fast

    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--{name} must be an integer, 'auto' or 'full', "
                          f"got {value!r}") from None

