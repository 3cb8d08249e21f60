"""The ``leanops`` command. Thin: it parses options, calls the library, prints the result.

Contract (DESIGN.md): bad input exits 2 with one line on stderr and no traceback; exit 1
is an internal error. ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ._format import duration
from ._json import dumps
from .errors import LeanopsError

__all__ = ["main", "cli", "log_options", "load_log", "emit", "echo", "clean_text", "atomic_output"]

_MAPPING_OPTIONS = ("case", "activity", "start", "end", "resource", "lifecycle", "tz", "sep", "encoding", "dedupe", "strict")


def log_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The column-mapping options shared by every command that reads a log."""
    return _mapping_options(f, start_flag="--start", start_dest="start")


def _mapping_options(f: Callable[..., Any], *, start_flag: str, start_dest: str) -> Callable[..., Any]:
    opts = [
        click.option("--case", metavar="COL", help="Case id column (detected by default)."),
        click.option("--activity", metavar="COL", help="Activity column (detected by default)."),
        click.option(start_flag, start_dest, metavar="COL", help="Start time column (detected by default)."),
        click.option("--end", "--timestamp", "end", metavar="COL", help="End/complete time column (detected by default)."),
        click.option("--resource", metavar="COL", help="Resource column (detected by default)."),
        click.option("--lifecycle", type=click.Choice(["pair", "classifier", "ignore"]), default="pair", show_default=True,
                     help="Pair start/complete events; or take each event as a completion, its activity being the "
                          "XES classifier (activity+lifecycle) or the activity alone."),
        click.option("--tz", default="UTC", show_default=True,
                     help="Time zone of naive timestamps; a zone other than UTC is also the log's local zone "
                          "for hours of day (by default taken from the offsets in the data)."),
        click.option("--sep", default=None, help="CSV delimiter (detected by default)."),
        click.option("--encoding", default="utf-8", show_default=True, help="Text encoding of a CSV log."),
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
    from ._files import register_input
    from .io import read

    register_input(path)  # the run's outputs must never replace it (leanops._files)
    return read(datasets.path(datasets.DEMO) if path is None else path, **mapping)


# Names in a log are untrusted: an activity called "\x1b]0;pwned\x07" must not drive the
# terminal. Everything the CLI prints goes through echo(), which blanks C0/C1 controls (but
# newline and tab), DEL and the bidi/zero-width marks that reorder or hide text.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_JSON_RAW = re.compile("[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """``text`` with terminal control characters blanked (see :func:`echo`).

    >>> clean_text("Review\x1b[2J\x07 ok\ttab")
    'Review [2J  ok\ttab'
    """
    return _CONTROLS.sub(" ", text)


def echo(message: Any = None, **kwargs: Any) -> None:
    """The one place the CLI prints: ``click.echo`` with control characters blanked."""
    click.echo(None if message is None else clean_text(str(message)), **kwargs)


def emit(doc: Any) -> None:
    """Print one JSON document on stdout (JSON escapes C0 controls itself; C1 and the bidi
    marks are escaped here, so the document still parses to the same strings)."""
    click.echo(_JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", dumps(doc)))


def atomic_output(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success (the one
    writer, :func:`leanops._files.atomic_path`: never over an input of this run)."""
    from ._files import atomic_path

    return atomic_path(path)


def check_output(path: str | None, **kwargs: Any) -> None:
    """Check an output path before the work starts (after the inputs are registered), so a
    bad ``-o`` fails in one line at once instead of after the analysis."""
    if path:
        from ._files import preflight

        preflight(path, **kwargs)


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
    from .boundaries import boundary_counts
    from .evidence import time_granularity

    ev = load_log(log, pop_mapping(kwargs))
    s = ev.summary()
    # what the log can support: cases cut by the export window, and the clock's resolution
    s["quality"].update(boundary_counts(ev))
    s["quality"]["time_granularity"] = time_granularity(ev)
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
        ("rows read / kept", f"{q['rows_read']:,} / {q['rows_kept']:,} source rows"),
        ("timestamps", f"{q['time_granularity']} granularity"),
        ("cut cases", f"{q['cut_at_start']:,} at the start, {q['open_at_end']:,} still open at the end"),
    ]
    # each count says what it counts: source rows, or instances (decided after pairing)
    rows += [(f"dropped: {r}", f"{n:,} {q['units']['dropped'][r]}") for r, n in q["dropped"].items()]
    rows += [(f"repaired: {r}", f"{n:,} {q['units']['repaired'][r]}") for r, n in q["repaired"].items()]
    rows += [("warning", w) for w in q["warnings"]]
    echo(_fmt_table(rows))


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
        echo(f"{d['name']:<28} {d['kind']}{'; ' + counts if counts else ''}")
        echo(f"{'':<28} source: {d['source']}; licence: {d['licence']}")


# --- value stream and bottlenecks (issue 4)
def _names_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise click.BadParameter("give activity names separated by commas, e.g. --value-added 'Review,Approve'")
    return names


@cli.command("valuestream")
@click.argument("log", required=False)
@log_options
@click.option("--value-added", "value_added", metavar="A,B", help="Activities that add value (default: all).")
@click.option("--calendar", "calendar", metavar="HOURS", help="Working hours, e.g. 'Mon-Fri 08:00-17:00' (default: learnt from the log).")
@click.option("--time", "time_", type=click.Choice(["calendar", "working"]), default="calendar", show_default=True,
              help="Measure durations on the wall clock or in working time.")
@click.option("--plot", "plot_path", metavar="FILE", help="Also draw the value-stream map to FILE (.png, .svg, .pdf).")
@click.option("--include-cut", "include_cut", is_flag=True,
              help="Keep the cases cut by the export window (left out of durations by default).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def valuestream_cmd(log: str | None, value_added: str | None, calendar: str | None, time_: str, plot_path: str | None,
                    include_cut: bool, as_json: bool, **kwargs: Any) -> None:
    """Value stream of LOG: lead, processing and waiting time, PCE, takt, WIP, per step."""
    from ._validation import check_calendar
    from .mining.valuestream import value_stream

    cal = check_calendar(calendar)
    if plot_path is not None and Path(plot_path).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.BadParameter(f"--plot must end in .png, .svg or .pdf; got {plot_path!r}")
    ev, eng = load_source(log, kwargs)
    check_output(plot_path)
    vs = value_stream(ev, value_added=_names_option(value_added), time=time_, calendar=cal, include_cut=include_cut, **eng)
    if plot_path is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        with atomic_output(plot_path) as tmp:
            fig = vs.plot().figure
            fig.savefig(tmp, format=Path(plot_path).suffix.lstrip(".").lower(), bbox_inches="tight")
            plt.close(fig)
    if as_json:
        emit(vs.to_dict())
        return
    echo(str(vs))


@cli.command("bottlenecks")
@click.argument("log", required=False)
@log_options
@click.option("--calendar", "calendar", metavar="HOURS", help="Working hours, e.g. 'Mon-Fri 08:00-17:00' (default: learnt from the log).")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Show only the TOP worst steps.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def bottlenecks_cmd(log: str | None, calendar: str | None, top: int | None, as_json: bool, **kwargs: Any) -> None:
    """Rank the steps of LOG that constrain the flow, worst first, with the evidence.

    score = wait_share x contention x utilization: the share of all waiting spent queueing
    for busy resources of the step, weighted by how saturated they are.
    """
    from ._validation import check_calendar
    from .mining.bottlenecks import bottlenecks

    cal = check_calendar(calendar)
    ev, eng = load_source(log, kwargs)
    result = bottlenecks(ev, calendar=cal, **eng)
    doc = result.to_dict()
    if top is not None:
        doc["bottlenecks"] = doc["bottlenecks"][:top]
    if as_json:
        emit(doc)
        return
    for r in doc["bottlenecks"]:
        util = f"utilisation {r['utilization']:.0%}" if r["utilization"] == r["utilization"] else "utilisation unknown"
        tag = ", capacity-bound" if r["capacity_bound"] else ""
        echo(f"{r['rank']:>2}. {r['activity']}  score {r['score']:.2f}  wait {duration(r['wait_mean_s'])}  "
                   f"({r['wait_share']:.1%} of waiting)  {util}  [{r['evidence']}{tag}]")
        echo(f"    {r['finding']}")
    echo("(score: relative to the top step = 1.00; share: the step's waiting time over all waiting time)")
    for c in doc["caveats"]:
        echo(f"caveat: {c}")


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
    from .mining.render import FORMATS

    if output and Path(output).suffix.lower().lstrip(".") not in FORMATS:
        raise click.UsageError(f"-o/--output must end in .svg, .png or .dot; got {output!r}.")
    src, eng = load_source(log, kwargs)
    check_output(output)
    g = _discover(src, activities=activities, paths=paths, **eng)
    drawn = None
    if output:
        drawn = g.display(max_nodes=max_nodes)
        with atomic_output(output) as tmp:
            drawn.render(tmp, overlay=overlay, format=Path(output).suffix.lower().lstrip(".") or None, max_nodes=max_nodes)
            if Path(output).suffix.lower() == ".svg":
                cap = _outline_capacity_bottleneck(Path(tmp), src, eng)
    if as_json:
        doc = g.to_json()
        if drawn is not None:
            doc["output"] = str(output)
            doc["drawn_notes"] = list(drawn.notes)
            if Path(output).suffix.lower() == ".svg":
                doc["capacity_bottleneck"] = cap
        emit(doc)
    else:
        echo(str(g))
    if drawn is not None:
        for note in drawn.notes[len(g.notes):]:
            echo(f"leanops: note: {note}", err=True)
        if not as_json:
            echo(f"map written to {output}")
            if Path(output).suffix.lower() == ".svg":
                echo(f"capacity bottleneck outlined: {cap}" if cap else
                           "no capacity bottleneck to outline (see leanops bottlenecks)")
def _outline_capacity_bottleneck(svg_path: Path, src: Any, eng: dict[str, Any]) -> str | None:
    """Outline the capacity bottleneck (if the data shows one) on a drawn SVG map, as the
    report's map does; return its name."""
    from .mining.bottlenecks import bottlenecks
    from .report.charts import outline_node, sanitize_svg

    cap = bottlenecks(src, **eng).capacity_bottleneck
    if cap is not None:
        svg, marked = outline_node(sanitize_svg(svg_path.read_text(encoding="utf-8")), cap)
        if marked:
            # a standalone file needs the SVG namespace that the inline form drops
            svg_path.write_text(svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1), encoding="utf-8")
    return cap


# --- report
@cli.command("report")
@click.argument("logs", nargs=-1)
@click.option("-o", "--output", "out", default="leanops-report", show_default=True, metavar="OUT",
              help="Output folder (one report per log, plus index.html for several), a file for one log, "
                   "or - for standard output.")
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default=None,
              help="html (a self-contained page; the default), md, or json with every table. "
                   "Default: from the suffix of a file OUT.")
@click.option("--since", metavar="ISO", help="Keep cases that start at or after this date/time.")
@click.option("--until", metavar="ISO", help="Keep cases that start before this date/time.")
@click.option("--config", "config_path", metavar="YAML", help="report.yaml: title, sections, exclude, max_rows, value_added.")
@click.option("--simulate", is_flag=True, help="Add the simulation section (fit, validate against the persistence baseline, replicate).")
@click.option("--sop", "sop_path", metavar="S.yaml", default=None, help="Add the SOP compliance section for this SOP.")
@click.option("--change-at", "change_at", metavar="ISO", default=None, help="Add the before/after section for a change at ISO.")
@click.option("-v", "--verbose", is_flag=True, help="Print the time of each section on stderr.")
@click.option("--full-path", is_flag=True, help="Show each log's full local path in the report (default: its file name).")
@log_options
def report_cmd(logs: tuple[str, ...], out: str, fmt: str, since: str | None, until: str | None,
               config_path: str | None, simulate: bool, sop_path: str | None, change_at: str | None, verbose: bool,
               full_path: bool, **kwargs: Any) -> None:
    """Bottleneck report on each LOG (the bundled demo log when none is given).

    LOG may be a quoted glob ('exports/*.csv'). A log that fails is named on stderr; the
    others are still reported, and the exit code is non-zero.
    """
    import dataclasses

    from ._files import register_input
    from .report import load_config, run_batch
    from .report.batch import expand_logs

    mapping = pop_mapping(kwargs)
    register_input(config_path)
    for p in expand_logs(list(logs)):  # every log of the batch is protected from every output
        register_input(p)
    config = load_config(config_path)
    if full_path:
        config = dataclasses.replace(config, full_path=True)
    if sop_path is not None or change_at is not None:
        from .sop import read_sop

        if sop_path is not None:
            register_input(sop_path)
        config = dataclasses.replace(config, sop=read_sop(sop_path) if sop_path is not None else config.sop,
                                     change_at=change_at if change_at is not None else config.change_at)

    def say(line: str) -> None:
        echo(f"leanops: {line}", err=True)

    to_stdout = out == "-"
    if to_stdout and len(logs) > 1:
        raise click.UsageError("-o - (standard output) takes one LOG; pass a folder for several.")
    with tempfile.TemporaryDirectory() as tmp:
        res = run_batch(
            list(logs) or [None], Path(tmp) / f"report.{fmt or 'html'}" if to_stdout else out, format=fmt,
            since=since, until=until, config=config, simulate=simulate,
            read=lambda p: load_log(p, mapping), verbose=say if verbose else None,
        )
        if to_stdout:
            for path in res.outputs:
                echo(path.read_text(encoding="utf-8"), nl=False)
            res.outputs = []
    for path in res.outputs:
        echo(str(path))
    if res.index is not None:
        echo(str(res.index))
    if res.failures:
        if len(logs) <= 1 and len(res.failures) == 1 and not res.outputs:
            raise_input = res.exit_code == 2
            msg = res.failures[0][1]
            if raise_input:
                from .errors import InputError

                raise InputError(msg)
        for name, msg, _ in res.failures:
            echo(f"leanops: error: {name}: {msg}", err=True)
        sys.exit(res.exit_code)


# --- root causes
@cli.command("rca")
@click.argument("log", required=False)
@log_options
@click.option("--target", "-t", default="case_duration", show_default=True, metavar="T",
              help="case_duration, sla:DURATION (e.g. sla:3d), wait:ACTIVITY or rework.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1), help="Report at most this many causes.")
@click.option("--waiting", is_flag=True, help="Split waiting time into contention, unavailability, prioritisation, batching, extraneous.")
@click.option("--rules", "as_rules", is_flag=True, help="Print a small decision tree of TARGET as rules instead.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of the bootstrap (>= 0).")
@click.option("--include-cut", is_flag=True,
              help="Keep the cases cut by the log's export window (left out of the target by default).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def rca_cmd(log: str | None, target: str, top: int, waiting: bool, as_rules: bool, seed: int, include_cut: bool,
            as_json: bool, **kwargs: Any) -> None:
    """Why cases are slow, late or loop: ranked root causes of TARGET in LOG (or --waiting, --rules).

    Causes are case drivers (attributes known at the start, and resources whose own work
    differs); the system state the cases met (queues, load, periods) is reported apart,
    as context."""
    from . import rca

    if waiting and as_rules:
        raise click.UsageError("--waiting and --rules cannot be combined; pick one.")
    ev = load_log(log, pop_mapping(kwargs))
    if as_rules:
        rl = rca.rules(ev, target=target, seed=seed)
        if as_json:
            emit(rl.to_dict())
        else:
            echo(str(rl))
        return
    if waiting:
        wc = rca.waiting_causes(ev)
        if as_json:
            emit(wc.to_dict())
        else:
            echo(str(wc))
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rca.root_causes(ev, target=target, top=top, seed=seed, include_cut=include_cut)
    if as_json:
        emit(res.to_dict())
    else:
        echo(str(res))


# --- simulation (leanops fit, leanops simulate) -------------------------------------------------

def _sim_log_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The mapping options, with the start-time column as --start-column: in ``simulate``,
    --start is the first arrival of the simulation (DESIGN.md)."""
    return _mapping_options(f, start_flag="--start-column", start_dest="start_col")


def _is_model_file(path: str) -> bool:
    import json

    if not path.lower().endswith(".json"):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    if '"leanops.simulation_model"' in head:
        return True
    try:
        doc = json.loads(head)
    except json.JSONDecodeError:
        return True  # a .json file that is not a log: let the model loader name the problem
    return isinstance(doc, dict)


def _write_sim_csv(log: Any, path: str, *, keep_formulas: bool = False) -> None:
    from ._files import neutralise_formulas

    d = log.df
    out = d.rename(columns={"start": "start_time", "end": "end_time"})
    for c in ("start_time", "end_time"):
        out[c] = out[c].map(lambda t: None if t is None or t != t else t.isoformat())
    if not keep_formulas:  # names come from the fitted log: a cell "=HYPERLINK(...)" must not run
        out = neutralise_formulas(out)[0]
    with atomic_output(path) as tmp:
        out.to_csv(tmp, index=False)


@cli.command("fit")
@click.argument("log", required=False)
@log_options
@click.option("-o", "--output", "output", metavar="MODEL.json", help="Write the simulation model (JSON).")
@click.option("--calendars", type=click.Choice(["discover", "24/7"]), default="discover", show_default=True,
              help="Learn working hours per pool, or assume 24/7.")
@click.option("--recency", default="auto", show_default=True, metavar="SHARE|auto|none",
              help="Half-life (share of the log's span) for weighting recent cases; 'auto' when arrivals drift.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary of the model.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def fit_cmd(log: str | None, output: str | None, calendars: str, recency: str, as_json: bool, quiet: bool,
            **kwargs: Any) -> None:
    """Fit a simulation model to LOG and write it as JSON (-o model.json)."""
    from .errors import InputError
    from .simulate import fit

    rec: Any
    if recency.lower() in ("auto", "none"):
        rec = None if recency.lower() == "none" else "auto"
    else:
        try:
            rec = float(recency)
        except ValueError:
            raise InputError(f"--recency must be a number > 0, 'auto' or 'none'; got {recency!r}.") from None
    ev = load_log(log, pop_mapping(kwargs))
    check_output(output)
    with _progress(8, "fitting", enabled=not quiet, unit="stage") as tick:
        model = fit(ev, calendars=calendars, recency=rec, progress=tick)  # type: ignore[arg-type]
    if output:
        with atomic_output(output) as tmp:
            model.save(tmp)
    if as_json:
        doc = model.to_summary()
        doc["output"] = output
        emit(doc)
        return
    echo(model.brief())
    if output:
        echo(f"model written to {output}")


def _utc_arg(v: str, name: str) -> Any:
    """Check an instant option with the one time parser before the log is read (only its
    form matters here: without an offset it is later read as local time in the log's zone)."""
    from ._normalize import parse_time

    return parse_time(v, tz=None, name=name)


def _echo_forecast(fc: dict[str, Any]) -> None:
    """The forecast in a few lines: counts with their 90% intervals, the slowest open cases."""
    from ._format import duration

    def iv(x: dict[str, Any]) -> str:
        return f"{x['mean']:,.1f} (90%: {x['low']:,.0f}-{x['high']:,.0f})" if x["mean"] is not None else "-"

    echo(f"forecast from {fc['at']} for {fc['days']:g} days ({fc['open_at_start']:,} open cases, "
               f"SLA {duration(fc['sla_s'])}):")
    echo(f"  completions {iv(fc['completions'])}, WIP at the end {iv(fc['wip'])}, "
               f"SLA breaches {iv(fc['sla_breaches'])}")
    for sc in fc.get("scenarios", []):
        echo(f"  {sc['name']}: completions {iv(sc['completions'])}, WIP {iv(sc['wip'])}, "
                   f"SLA breaches {iv(sc['sla_breaches'])}")
    late = sorted((c for c in fc["open_cases"] if c["remaining_s"]["mean"] is not None),
                  key=lambda c: -c["remaining_s"]["mean"])[:5]
    for c in late:
        echo(f"  open {c['case_id']}: {duration(c['elapsed_s'])} so far, about {duration(c['remaining_s']['mean'])} "
                   f"to go, SLA missed in {c['sla_breach_probability']:.0%} of runs")


def _warmup_option(v: str) -> int | str:
    """--warmup: 'auto' or a whole number of cases >= 0."""
    from .errors import InputError

    if str(v).strip().lower() == "auto":
        return "auto"
    try:
        k = int(v)
    except (TypeError, ValueError):
        k = -1
    if k < 0:
        raise InputError(f"--warmup must be 'auto' or a whole number of cases >= 0; got {v!r}.")
    return k


@cli.command("simulate")
@click.argument("model_or_log", required=False)
@_sim_log_options
@click.option("--scenario", "scenario_files", multiple=True, metavar="S.yaml",
              help="An SOP change scenario (YAML); repeat for several. Each is compared with the baseline.")
@click.option("--cases", type=click.IntRange(min=1), default=None, help="Cases per replication (default: 1000, or --days).")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Size each replication by simulated time instead: arrivals for N days.")
@click.option("--replications", type=click.IntRange(min=1), default=5, show_default=True, help="Independent runs, for confidence intervals.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed >= 0 (same seed, same result).")
@click.option("--start", "sim_start", metavar="ISO", default=None,
              help="First arrival of the simulation (default: where the fitted log ends).")
@click.option("--from-state", "from_state", is_flag=True,
              help="Start from the open cases of LOG at --at and forecast the next --days (default 7).")
@click.option("--at", "at", metavar="ISO", default=None, help="With --from-state: the instant (default: LOG's last timestamp); without an offset, "
                   "local time in LOG's time zone (--tz).")
@click.option("--sla", "sla", metavar="DURATION", default=None,
              help="With --from-state: the case SLA for sla_breaches, e.g. 5d (default: LOG's 90th-percentile cycle time).")
@click.option("--warmup", default="auto", show_default=True, metavar="N|auto",
              help="Leading cases left out of the KPIs; 'auto' finds the warm-up (MSER-5) and leaves out the drain.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Local processes for the replications (-1: one per core).")
@click.option("--scheduler", metavar="ADDR", default=None, help="Run the replications on a Dask cluster (tcp://host:8786).")
@click.option("-o", "--output", "output", metavar="SIM.csv", help="Write the first replication's log as CSV.")
@click.option("--keep-formulas", is_flag=True,
              help="In -o, keep text cells starting with = + - @ as they are (default: prefixed with ' so a "
                   "spreadsheet does not run them as formulas).")
@click.option("--limit", "limits", multiple=True, metavar="NAME=N",
              help="Raise a run limit: cases (10,000,000), steps_per_case (10,000), pool_size (100,000).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def simulate_cmd(model_or_log: str | None, scenario_files: tuple[str, ...], cases: int | None, days: float | None,
                 replications: int, seed: int, sim_start: str | None, from_state: bool, at: str | None, sla: str | None,
                 warmup: str, jobs: int, scheduler: str | None, output: str | None, keep_formulas: bool,
                 limits: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Simulate MODEL_OR_LOG (a model JSON from 'leanops fit', or a log, fitted first).

    Prints the baseline KPIs with 95% confidence intervals over the replications, and for
    each --scenario its KPIs and the change from the baseline (CI, relative, Welch p-value).
    """
    from ._durations import parse_duration
    from .errors import InputError, ModelError
    from .simulate.model import check_start

    mapping = pop_mapping(kwargs)
    start_col = kwargs.pop("start_col", None)
    if start_col:
        mapping["start"] = start_col
    if sim_start is not None:
        try:
            check_start(sim_start, "--start")
        except ModelError:
            raise InputError(f"--start must be an ISO 8601 timestamp between 1900 and 2200; got {sim_start!r}.") from None
    if jobs == 0 or jobs < -1:
        raise InputError(f"--jobs must be >= 1, or -1 for one per core; got {jobs}.")
    if cases is not None and days is not None:
        raise InputError(f"give --cases or --days, not both; got --cases {cases} and --days {days:g}.")
    if not from_state and (at is not None or sla is not None):
        raise InputError("--at and --sla need --from-state; add it, or drop them.")
    if from_state:
        if cases is not None or sim_start is not None:
            raise InputError("--from-state starts at --at and runs for --days; drop --cases and --start.")
        if model_or_log is not None and _is_model_file(model_or_log):
            raise InputError(f"--from-state needs a LOG (its open cases are the state); got the model file {model_or_log!r}.")
        if at is not None:
            _utc_arg(at, "--at")
        if sla is not None:
            parse_duration(sla, name="--sla", positive=True)
        days = 7.0 if days is None else days
    n = cases if cases is not None or days is not None else 1000
    until = f"{days * 86400.0:.0f}s" if days is not None and not from_state else None
    wu: int | str = _warmup_option(warmup)
    if isinstance(wu, int) and n is not None and wu >= n:
        raise InputError(f"--warmup ({wu}) must be smaller than --cases ({n}).")
    with _run_limits(limits):
        _simulate(model_or_log, scenario_files, n, days, until, replications, seed, sim_start, from_state, at, sla,
                  wu, jobs, scheduler, output, keep_formulas, as_json, mapping)


def _run_limits(limits: tuple[str, ...]) -> contextlib.AbstractContextManager[Any]:
    from .simulate._limits import parse_limit, using

    return using(**dict(parse_limit(x) for x in limits))


def _simulate(model_or_log: str | None, scenario_files: tuple[str, ...], n: int | None, days: float | None,
              until: str | None, replications: int, seed: int, sim_start: str | None, from_state: bool,
              at: str | None, sla: str | None, wu: int | str, jobs: int, scheduler: str | None, output: str | None,
              keep_formulas: bool, as_json: bool, mapping: dict[str, Any]) -> None:
    import pandas as pd

    from ._files import register_input
    from ._format import duration as _duration
    from .simulate import SimulationModel, compare, fit, load_scenarios, run
    from .simulate._limits import check_cases
    from .simulate.engine import _start_epoch

    if n is not None:
        check_cases(n, what="--cases")  # before fitting: fail fast
    scenarios = []
    for path in scenario_files:
        register_input(path)
        scenarios.extend(load_scenarios(os.fspath(path) if path.lower().endswith((".yaml", ".yml")) else _read_text(path)))
    if model_or_log is not None and _is_model_file(model_or_log):
        register_input(model_or_log)
        model = SimulationModel.load(model_or_log)
        source = "model"
    else:
        ev = load_log(model_or_log, mapping)
        model = fit(ev)
        source = "log"
    check_output(output)
    state_kw: dict[str, Any] = {}
    if from_state:
        state_kw = {"from_log": ev, "at": at, "days": days, "sla": sla}
        wu = 0
    with _progress(replications * (1 + len(scenarios)), "simulating", enabled=not as_json) as tick:
        cmp = compare(model, scenarios, replications=replications, cases=n, until=until, seed=seed, warmup=wu,
                      start=sim_start, jobs=jobs, scheduler=scheduler, progress=tick, **state_kw)
    if output:
        if from_state:
            fc_end = pd.Timestamp(cmp.forecast["at"]) + pd.Timedelta(days=days)
            first = run(model, until=fc_end, seed=cmp.seeds[0], from_log=ev, at=at)
        else:
            first = run(model, cases=n, until=until, seed=cmp.seeds[0], warmup=wu, start=sim_start)
        _write_sim_csv(first.log, output, keep_formulas=keep_formulas)
    st = (pd.Timestamp(cmp.forecast["at"]) if cmp.forecast else
          pd.Timestamp(_start_epoch(model, sim_start), unit="s", tz="UTC"))
    doc = {
        "source": source,
        "cases": n,
        **({"days": days} if days is not None else {}),
        "replications": replications,
        "seed": seed,
        "warmup": wu,
        "start": _utc(st),
        **({"trust": model.trust} if model.trust else {}),
        **cmp.to_dict(),
        "output": output,
    }
    if as_json:
        emit(doc)
        return
    if cmp.forecast:
        _echo_forecast(cmp.forecast)
    size = f"{n:,} cases" if n is not None else f"{days:g} days of arrivals"
    echo(f"{size} x {replications} replications, seed {seed}, first arrival {doc['start']}")
    if cmp.window:
        w = cmp.window
        echo(f"KPIs over the steady-state window {w['start']} to {w['end']} "
             f"(warm-up {_duration(w['warmup_s'])}, {w['cases_counted']:,} cases counted)")
    for msg in cmp.warnings + ([f"trust: {model.trust['statement']}"] if model.trust and not model.trust.get("ok") else []):
        echo(f"warning: {msg}")
    echo(cmp.table())
    if output:
        echo(f"simulated log written to {output}")


# --- scale: Parquet conversion, out-of-core and Dask engines (issue 9)
def load_source(path: str | None, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The log argument of a mining command and the engine keywords for the function.

    A canonical Parquet file or directory (``leanops convert``) read without mapping
    options is passed on as a path, so it is analysed out of core in DuckDB (or on Dask
    with ``--scheduler``); anything else is read into memory. Pops ``engine``,
    ``scheduler`` and the mapping options from ``kwargs``.
    """
    engine = kwargs.pop("engine", None) or "auto"
    scheduler = kwargs.pop("scheduler", None)
    mapping = pop_mapping(kwargs)
    custom = any(mapping.get(k) for k in ("case", "activity", "start", "end", "resource", "sep", "dedupe", "strict")) \
        or mapping.get("lifecycle", "pair") != "pair" \
        or mapping.get("tz", "UTC") != "UTC" or mapping.get("encoding", "utf-8").lower() not in ("utf-8", "utf8")
    if engine == "dask" and scheduler is None:
        raise click.UsageError("--engine dask needs --scheduler tcp://host:8786 (start one with 'dask scheduler')")
    if scheduler is not None:
        engine = "dask"
    lazy = path is not None and not custom and engine != "pandas" and _is_parquet(path)
    if lazy and engine == "auto":
        from .errors import InputError
        from .scan import scan

        try:
            scan(path)
        except InputError:  # not canonical: read and map it in memory
            lazy = False
    if engine in ("duckdb", "dask") and not lazy:
        from .errors import InputError

        raise InputError(
            f"--engine {engine} works on canonical Parquet; convert the log first: leanops convert LOG out.parquet"
            + (" (column mapping options apply to the conversion)" if custom else "")
        )
    if lazy:
        from ._files import register_input

        register_input(path)
        return path, {"engine": engine if engine != "auto" else "duckdb", "scheduler": scheduler}
    return load_log(path, mapping), {}


def _is_parquet(path: str) -> bool:
    p = Path(path)
    if p.is_dir():
        return any(p.rglob("*.parquet"))
    return p.suffix.lower() in (".parquet", ".pq")


def _add_engine_options(*commands: click.Command) -> None:
    for cmd in commands:
        cmd.params.append(click.Option(
            ["--engine"], type=click.Choice(["auto", "pandas", "duckdb", "dask"]), default="auto", show_default=True,
            help="pandas (in memory), duckdb (out of core, for Parquet) or dask; auto: duckdb for canonical Parquet."))
        cmd.params.append(click.Option(
            ["--scheduler"], metavar="ADDRESS",
            help="Run on the Dask cluster at ADDRESS, e.g. tcp://host:8786 (Parquet partitions from 'leanops convert')."))


_add_engine_options(discover_cmd, valuestream_cmd, bottlenecks_cmd)


@cli.command("convert")
@click.argument("log")
@click.argument("output")
@log_options
@click.option("--partitions", type=click.IntRange(min=1), default=None,
              help="Write a directory of N Parquet files, cases split by hash of case_id (default: one file for .parquet).")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def convert_cmd(log: str, output: str, partitions: int | None, overwrite: bool, as_json: bool, **kwargs: Any) -> None:
    """Convert LOG to canonical Parquet OUTPUT (a file, or a directory of partitions).

    The quality report of the read is kept in the Parquet metadata. Mining commands on
    the result run out of core in DuckDB, or on Dask with --scheduler.
    """
    from ._files import check_not_input
    from .io import convert, partition_count

    ev = load_log(log, pop_mapping(kwargs))
    check_not_input(output)
    out = convert(ev, output, partitions=partitions, overwrite=overwrite)
    # the files this run wrote: not re-read from disk, where a concurrent convert to the
    # same output may be swapping its own result in at this very moment
    n_files = partition_count(ev, out, partitions)
    doc = {"output": str(out), "files": n_files, "events": len(ev), "cases": ev.n_cases,
           "quality": ev.quality.to_dict()}
    if as_json:
        emit(doc)
        return
    echo(f"wrote {len(ev):,} activity instances of {ev.n_cases:,} cases to {out} ({n_files} file{'s' if n_files > 1 else ''})")


def _utc(t: Any) -> Any:
    import pandas as pd

    if t is None:
        return None
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts


def _read_text(path: str) -> str:
    from .errors import InputError

    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise InputError(f"--scenario {path!r} cannot be read ({exc.strerror}); check the path.") from None
    except UnicodeDecodeError:
        raise InputError(f"--scenario {path!r} is not UTF-8 text; save it as UTF-8 YAML.") from None


@contextlib.contextmanager
def _progress(total: int, what: str, *, enabled: bool = True, unit: str = "run") -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (only on a terminal); yields the callback compare() calls."""
    if not enabled or not sys.stderr.isatty():
        yield lambda done, n: None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=what, unit=unit, file=sys.stderr, leave=False)
    def tick(done: int, n: int) -> None:
        bar.total = n
        bar.update(done - bar.n)

    try:
        yield tick
    finally:
        bar.close()


@cli.command("suggest")
@click.argument("log", required=False)
@log_options
@click.option("--replications", type=click.IntRange(min=1), default=5, show_default=True, help="Runs per candidate.")
@click.option("--cases", type=click.IntRange(min=1), default=1000, show_default=True, help="Cases per replication.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed >= 0 (same seed, same result).")
@click.option("--value-added", "value_added", metavar="A,B", default=None,
              help="The value-adding activities (others may be removed or automated).")
@click.option("--cost-per-hour", "cost", type=float, default=None, help="Hourly cost of one resource (shows the cost of capacity).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Local processes for the replications (-1: one per core).")
@click.option("--scheduler", metavar="ADDR", default=None, help="Run the replications on a Dask cluster (tcp://host:8786).")
@click.option("--limit", "limits", multiple=True, metavar="NAME=N",
              help="Raise a run limit: cases (10,000,000), steps_per_case (10,000), pool_size (100,000).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def suggest_cmd(log: str | None, replications: int, cases: int, seed: int, value_added: str | None, cost: float | None,
                jobs: int, scheduler: str | None, limits: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Propose SOP changes from LOG's analyses, simulate each, and rank them by cycle time."""
    from .errors import InputError
    from .simulate import suggest

    if jobs == 0 or jobs < -1:
        raise InputError(f"--jobs must be >= 1, or -1 for one per core; got {jobs}.")
    if cost is not None and not cost >= 0:
        raise InputError(f"--cost-per-hour must be a number >= 0; got {cost}.")
    ev = load_log(log, pop_mapping(kwargs))
    va = None
    if value_added:
        from ._validation import check_names

        va = check_names("--value-added", [v.strip() for v in value_added.split(",") if v.strip()], ev.activities)
    with _run_limits(limits), _progress(replications * 8, "simulating candidates", enabled=not as_json) as tick:
        from .simulate._limits import check_cases

        check_cases(cases, what="--cases")
        res = suggest(ev, value_added=va, costs=cost, replications=replications, cases=cases, seed=seed,
                      jobs=jobs, scheduler=scheduler, progress=tick)
    if as_json:
        emit(res.to_dict())
        return
    echo(str(res))


# --- SOP compliance and the PDCA check (leanops check, leanops compare, leanops sop draft) ------

@cli.command("check")
@click.argument("log", required=False)
@log_options
@click.option("--sop", "sop_path", required=True, metavar="S.yaml", help="The SOP file (YAML) to check LOG against.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of the bootstrap of the costs (>= 0).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def check_cmd(log: str | None, sop_path: str, seed: int, as_json: bool, **kwargs: Any) -> None:
    """Check LOG against an SOP: compliance per rule and the cost of each violation."""
    from .compliance import check
    from .sop import read_sop

    sop = read_sop(sop_path)  # a bad SOP fails before the log is read
    ev = load_log(log, pop_mapping(kwargs))
    res = check(ev, sop, seed=seed)
    if as_json:
        emit(res.to_dict())
    else:
        echo(str(res))


@cli.command("compare")
@click.argument("logs", nargs=-1, required=True)
@log_options
@click.option("--change-at", "change_at", metavar="ISO", default=None, help="With one LOG: the instant of the change.")
@click.option("--predicted", metavar="sim.json", default=None, help="The leanops simulate --json output that predicted the change.")
@click.option("--sop", "sop_path", metavar="S.yaml", default=None, help="Also compare compliance with this SOP.")
@click.option("--no-adjust", "no_adjust", is_flag=True, help="Compare raw, without reweighting for volume and case mix.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of the bootstrap (>= 0).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def compare_cmd(logs: tuple[str, ...], change_at: str | None, predicted: str | None, sop_path: str | None,
                no_adjust: bool, seed: int, as_json: bool, **kwargs: Any) -> None:
    """Did the change work? Compare LOG before/after --change-at, or BEFORE AFTER."""
    from .pdca import compare

    if len(logs) > 2:
        raise click.UsageError(f"give one LOG with --change-at, or two logs BEFORE AFTER; got {len(logs)} logs.")
    if (len(logs) == 1) != (change_at is not None):
        raise click.UsageError("give one LOG with --change-at ISO, or two logs BEFORE AFTER without --change-at.")
    mapping = pop_mapping(kwargs)
    sop = None
    if sop_path is not None:
        from .sop import read_sop

        sop = read_sop(sop_path)
    evs = [load_log(p, mapping) for p in logs]
    res = compare(evs[0], evs[1] if len(evs) > 1 else None, change_at=change_at, predicted=predicted, sop=sop,
                  adjust=not no_adjust, seed=seed)
    if as_json:
        emit(res.to_dict())
    else:
        echo(str(res))


@cli.group("sop")
def sop_group() -> None:
    """Standard operating procedures: draft one from a log (then check it with leanops check)."""


@sop_group.command("draft")
@click.argument("log", required=False)
@log_options
@click.option("--coverage", default=0.95, show_default=True, type=click.FloatRange(0.5, 1.0),
              help="Share of cases each proposed rule must hold for.")
@click.option("-o", "--output", metavar="S.yaml", default=None, help="Write the SOP here instead of stdout.")
def sop_draft_cmd(log: str | None, coverage: float, output: str | None, **kwargs: Any) -> None:
    """Propose an SOP (YAML) from LOG's dominant behaviour, as a starting point to edit."""
    from .sop import draft_sop

    ev = load_log(log, pop_mapping(kwargs))
    text = draft_sop(ev, coverage=coverage).to_yaml()
    if output is None:
        echo(text, nl=False)
        return
    with atomic_output(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    echo(f"wrote a draft SOP to {output}", err=True)


# --- entry point
def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI with the error contract of DESIGN.md."""
    debug = bool(os.environ.get("LEANOPS_DEBUG"))
    if not debug:
        warnings.simplefilter("ignore")
        # "Exception ignored in Client.__del__" and the like, printed at exit after a failed
        # connection, would add a traceback after the one-line error
        sys.unraisablehook = lambda unraisable: None
    from ._files import run_scope

    try:
        with run_scope():  # inputs registered during the command are protected from its outputs
            cli.main(args=argv, prog_name="leanops", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        echo("leanops: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "leanops"
        echo(f"leanops: error: {_one_line(exc.format_message())} (see '{cmd} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        echo(f"leanops: error: {_one_line(exc.format_message())}", err=True)
        sys.exit(2)
    except (LeanopsError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        if debug:
            raise
        echo(f"leanops: error: {_one_line(str(exc))}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        echo("leanops: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # internal error: still one line, but exit 1
        if debug:
            raise
        echo(
            f"leanops: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} "
            "(set LEANOPS_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
