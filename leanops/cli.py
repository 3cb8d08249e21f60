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


# --- mining: process maps (issue 3)
@cli.command("discover")
@click.argument("log", required=False)
@log_options
@click.option("-o", "--output", metavar="PATH", help="Write the map to PATH (.svg, .png or .dot).")
@click.option(
    "--overlay",
    type=click.Choice(["frequency", "performance"]),
    default="frequency",
    show_default=True,
    help="Label paths with counts or with mean waiting times.",
)
@click.option("--activities", type=float, metavar="SHARE", help="Keep the most frequent activities covering SHARE (0-1] of instances.")
@click.option("--paths", type=float, metavar="SHARE", help="Keep the most frequent paths covering SHARE (0-1] of transitions.")
@click.option("--max-nodes", type=int, default=60, show_default=True, help="Simplify the drawing above this many activities.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def discover_cmd(
    log: str | None,
    output: str | None,
    overlay: str,
    activities: float | None,
    paths: float | None,
    max_nodes: int,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Discover the process map of LOG: activities, paths, counts and waiting times.

    Without LOG the bundled demo log is used. -o draws the map (SVG, PNG or dot source).
    """
    from .mining.graph import discover as _discover
    from .mining.render import FORMATS, format_duration

    if output and Path(output).suffix.lower().lstrip(".") not in FORMATS:
        raise click.UsageError(f"-o/--output must end in .svg, .png or .dot; got {output!r}.")
    g = _discover(load_log(log, pop_mapping(kwargs)), activities=activities, paths=paths)
    drawn = None
    if output:
        drawn = g.display(max_nodes=max_nodes)
        with atomic_output(output) as tmp:
            drawn.render(tmp, overlay=overlay, format=Path(output).suffix.lower().lstrip(".") or None, max_nodes=max_nodes)
    if as_json:
        doc = g.to_json()
        if drawn is not None:
            doc["output"] = str(output)
            doc["drawn_notes"] = list(drawn.notes)
        emit(doc)
    else:
        click.echo(f"{g.n_cases:,} cases, {g.n_events:,} activity instances, {len(g.nodes)} activities, {len(g.edges)} paths")
        for note in g.notes:
            click.echo(f"note: {note}")
        basis = {"end": " (end to end: no start times)", "mixed": " (end to end where a start is missing)"}.get(g.wait_basis, "")
        click.echo(f"\nbusiest paths{basis}:")
        def clean(name: str) -> str:  # activity names are untrusted: no control characters on a terminal
            return "".join(ch if ch.isprintable() else " " for ch in name)

        for row in g.edges.head(10).itertuples(index=False):
            click.echo(f"  {clean(row.source)} -> {clean(row.target)}: {row.count:,} (mean wait {format_duration(row.wait_mean_s)})")
    if drawn is not None:
        for note in drawn.notes[len(g.notes):]:
            click.echo(f"leanops: note: {note}", err=True)
        if not as_json:
            click.echo(f"map written to {output}")


if __name__ == "__main__":  # pragma: no cover
    main()
