"""The ``leanops`` command. Thin: it parses options, calls the library, prints the result.

Contract (DESIGN.md): bad input exits 2 with one line on stderr and no traceback; exit 1
is an internal error. ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ._json import dumps
from .errors import LeanopsError

__all__ = ["main", "cli", "log_options", "load_log", "emit", "atomic_output"]

_MAPPING_OPTIONS = ("case", "activity", "start", "end", "resource", "tz", "sep", "dedupe", "strict")


def log_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The column-mapping options shared by every command that reads a log."""
    opts = [
        click.option("--case", metavar="COL", help="Case id column (detected by default)."),
        click.option("--activity", metavar="COL", help="Activity column (detected by default)."),
        click.option("--start", metavar="COL", help="Start time column (detected by default)."),
        click.option("--end", "--timestamp", "end", metavar="COL", help="End/complete time column (detected by default)."),
        click.option("--resource", metavar="COL", help="Resource column (detected by default)."),
        click.option("--tz", default="UTC", show_default=True, help="Time zone of naive timestamps."),
        click.option("--sep", default=None, help="CSV delimiter (detected by default)."),
        click.option("--dedupe", is_flag=True, help="Drop exact duplicate rows (counted in the quality report)."),
        click.option("--strict", is_flag=True, help="Fail instead of repairing or dropping rows."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def pop_mapping(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the mapping options out of a command's kwargs."""
    return {k: kwargs.pop(k) for k in _MAPPING_OPTIONS if k in kwargs}


def load_log(path: str | None, mapping: dict[str, Any]):
    """Read LOG with the mapping options, or the bundled demo log when LOG is omitted."""
    from . import datasets
    from .io import read

    return read(datasets.path(datasets.DEMO) if path is None else path, **mapping)


def emit(doc: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(dumps(doc))


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success."""
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise click.UsageError(f"output folder {str(target.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent or ".")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _fmt_table(rows: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="leanops", prog_name="leanops")
def cli() -> None:
    """leanops: process mining and lean optimisation on event logs.

    Every command that reads a LOG detects the usual column names; map others with
    --case/--activity/--start/--end/--resource. Add --json for a JSON document.
    """


@cli.command()
@click.argument("log", required=False)
@log_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def info(log: str | None, as_json: bool, **kwargs: Any) -> None:
    """Summarise LOG: cases, activity instances, time span and data quality."""
    ev = load_log(log, pop_mapping(kwargs))
    s = ev.summary()
    if as_json:
        emit(s)
        return
    q = s["quality"]
    rows = [
        ("source", s["source"]),
        ("cases", f"{s['cases']:,}"),
        ("activity instances", f"{s['events']:,}"),
        ("activities", s["activities"]),
        ("resources", s["resources"]),
        ("from", s["start"]),
        ("to", s["end"]),
        ("start times", "yes" if s["has_start_times"] else "no (completion only)"),
        ("columns", ", ".join(f"{k}<-{v}" for k, v in s["mapping"].items())),
        ("attributes", ", ".join(s["attributes"][:12]) + (" …" if len(s["attributes"]) > 12 else "") or "-"),
        ("rows read / kept", f"{q['rows_read']:,} / {q['rows_kept']:,}"),
    ]
    rows += [(f"dropped: {r}", f"{n:,}") for r, n in q["dropped"].items()]
    rows += [(f"repaired: {r}", f"{n:,}") for r, n in q["repaired"].items()]
    rows += [("warning", w) for w in q["warnings"]]
    click.echo(_fmt_table(rows))


@cli.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def datasets_cmd(as_json: bool) -> None:
    """List the bundled event logs, with their source and licence."""
    from . import datasets

    items = datasets.list()
    if as_json:
        emit({"datasets": [{**d, "path": str(datasets.path(d["name"]))} for d in items]})
        return
    for d in items:
        counts = f"{d['cases']:,} cases, {d['events']:,} instances" if d["cases"] else ""
        click.echo(f"{d['name']:<28} {d['kind']}{'; ' + counts if counts else ''}")
        click.echo(f"{'':<28} source: {d['source']}; licence: {d['licence']}")


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI with the error contract of DESIGN.md."""
    debug = bool(os.environ.get("LEANOPS_DEBUG"))
    if not debug:
        warnings.simplefilter("ignore")
    try:
        cli.main(args=argv, prog_name="leanops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("leanops: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "leanops"
        click.echo(f"leanops: error: {_one_line(exc.format_message())} (see '{cmd} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"leanops: error: {_one_line(exc.format_message())}", err=True)
        sys.exit(2)
    except (LeanopsError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        if debug:
            raise
        click.echo(f"leanops: error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("leanops: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # internal error: still one line, but exit 1
        if debug:
            raise
        click.echo(
            f"leanops: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} "
            "(set LEANOPS_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        sys.exit(1)


# --- root causes
@cli.command("rca")
@click.argument("log", required=False)
@log_options
@click.option("--target", "-t", default="case_duration", show_default=True, metavar="T",
              help="case_duration, sla:DURATION (e.g. sla:3d), wait:ACTIVITY or rework.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1), help="Report at most this many causes.")
@click.option("--waiting", is_flag=True, help="Split waiting time into contention, unavailability, prioritisation, batching, extraneous.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def rca_cmd(log: str | None, target: str, top: int, waiting: bool, seed: int, as_json: bool, **kwargs: Any) -> None:
    """Why cases are slow, late or loop: ranked root causes of TARGET in LOG (or --waiting)."""
    from . import rca

    ev = load_log(log, pop_mapping(kwargs))
    if waiting:
        wc = rca.waiting_causes(ev)
        if as_json:
            emit(wc.to_dict())
        else:
            click.echo(str(wc))
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rca.root_causes(ev, target=target, top=top, seed=seed)
    if as_json:
        emit(res.to_dict())
    else:
        click.echo(str(res))


if __name__ == "__main__":  # pragma: no cover
    main()
