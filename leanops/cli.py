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

from ._format import duration
from ._json import dumps
from .errors import LeanopsError

__all__ = ["main", "cli", "log_options", "load_log", "emit", "atomic_output"]

_MAPPING_OPTIONS = ("case", "activity", "start", "end", "resource", "tz", "sep", "encoding", "dedupe", "strict")


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
        click.option("--tz", default="UTC", show_default=True, help="Time zone of naive timestamps."),
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
    from .io import read

    return read(datasets.path(datasets.DEMO) if path is None else path, **mapping)


def emit(doc: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(dumps(doc))


def atomic_output(path: str | os.PathLike[str]) -> contextlib.AbstractContextManager[Path]:
    """Yield a temporary path next to ``path``; move it into place only on success."""
    from ._files import atomic_path

    return atomic_path(path)


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
        ("rows read / kept", f"{q['rows_read']:,} / {q['rows_kept']:,}"),
        ("timestamps", f"{q['time_granularity']} granularity"),
        ("cut cases", f"{q['cut_at_start']:,} at the start, {q['open_at_end']:,} still open at the end"),
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


# --- value stream and bottlenecks (issue 4)
def _names_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise click.BadParameter("give activity names separated by commas, e.g. --value-added 'Review,Approve'")
    return names


def _fmt_s(s: Any) -> str:
    if s is None or s != s:
        return "-"
    s = float(s)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(s) >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.0f} s"


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
    from .calendar import Calendar
    from .mining.valuestream import value_stream

    cal = Calendar.parse(calendar) if calendar is not None else None
    if plot_path is not None and Path(plot_path).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.BadParameter(f"--plot must end in .png, .svg or .pdf; got {plot_path!r}")
    ev, eng = load_source(log, kwargs)
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
    rows = [
        ("cases", f"{vs.n_cases:,}"),
        ("lead time (mean)", _fmt_s(vs.lead_time_mean_s)),
        ("processing (mean)", _fmt_s(vs.processing_time_mean_s)),
        ("waiting (mean)", _fmt_s(vs.waiting_time_mean_s)),
        ("PCE", "unmeasurable" if vs.pce is None else f"{vs.pce:.1%}"),
        ("throughput", f"{vs.throughput_per_day:.2f} cases/day"),
        ("takt time", _fmt_s(vs.takt_time_s)),
        ("WIP mean / max", f"{vs.wip_mean:.1f} / {vs.wip_max:,}"),
        ("calendar", str(vs.calendar)),
    ]
    if vs.starts_estimated:
        rows.append(("estimated starts", f"{vs.starts_estimated:.0%} of instances"))
    ex = vs.excluded_cases
    if ex["cut_at_start"] or ex["open_at_end"]:
        rows.append(("left out", f"{ex['cut_at_start']:,} cut at start, {ex['open_at_end']:,} open at end"))
    click.echo(_fmt_table(rows))
    for c in vs.caveats:
        click.echo(f"caveat: {c}")
    click.echo("")
    width = max([len(str(a)) for a in vs.steps["activity"]] + [8])
    click.echo(f"{'step'.ljust(width)}  {'processing':>10}  {'waiting':>10}  {'share':>6}  VA")
    for r in vs.steps.itertuples(index=False):
        click.echo(f"{str(r.activity).ljust(width)}  {_fmt_s(r.processing_mean_s):>10}  {_fmt_s(r.waiting_mean_s):>10}  "
                   f"{r.share_of_lead_time:>6.1%}  {'yes' if r.value_added else 'no'}")


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
    from .calendar import Calendar
    from .mining.bottlenecks import bottlenecks

    cal = Calendar.parse(calendar) if calendar is not None else None
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
        click.echo(f"{r['rank']:>2}. {r['activity']}  score {r['score']:.2f}  wait {duration(r['wait_mean_s'])}  "
                   f"({r['wait_share']:.1%} of waiting)  {util}  [{r['evidence']}{tag}]")
        click.echo(f"    {r['finding']}")
    click.echo("(score: relative to the top step = 1.00; share: the step's waiting time over all waiting time)")
    for c in doc["caveats"]:
        click.echo(f"caveat: {c}")


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
    src, eng = load_source(log, kwargs)
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
            if Path(output).suffix.lower() == ".svg":
                click.echo(f"capacity bottleneck outlined: {cap}" if cap else
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
@click.option("-v", "--verbose", is_flag=True, help="Print the time of each section on stderr.")
@log_options
def report_cmd(logs: tuple[str, ...], out: str, fmt: str, since: str | None, until: str | None,
               config_path: str | None, simulate: bool, verbose: bool, **kwargs: Any) -> None:
    """Bottleneck report on each LOG (the bundled demo log when none is given).

    LOG may be a quoted glob ('exports/*.csv'). A log that fails is named on stderr; the
    others are still reported, and the exit code is non-zero.
    """
    from .report import load_config, run_batch

    mapping = pop_mapping(kwargs)
    config = load_config(config_path)

    def say(line: str) -> None:
        click.echo(f"leanops: {line}", err=True)

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
                click.echo(path.read_text(encoding="utf-8"), nl=False)
            res.outputs = []
    for path in res.outputs:
        click.echo(str(path))
    if res.index is not None:
        click.echo(str(res.index))
    if res.failures:
        if len(logs) <= 1 and len(res.failures) == 1 and not res.outputs:
            raise_input = res.exit_code == 2
            msg = res.failures[0][1]
            if raise_input:
                from .errors import InputError

                raise InputError(msg)
        for name, msg, _ in res.failures:
            click.echo(f"leanops: error: {name}: {msg}", err=True)
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
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the bootstrap.")
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
            click.echo(str(rl))
        return
    if waiting:
        wc = rca.waiting_causes(ev)
        if as_json:
            emit(wc.to_dict())
        else:
            click.echo(str(wc))
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = rca.root_causes(ev, target=target, top=top, seed=seed, include_cut=include_cut)
    if as_json:
        emit(res.to_dict())
    else:
        click.echo(str(res))


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


def _write_sim_csv(log: Any, path: str) -> None:
    d = log.df
    out = d.rename(columns={"start": "start_time", "end": "end_time"})
    for c in ("start_time", "end_time"):
        out[c] = out[c].map(lambda t: None if t is None or t != t else t.isoformat())
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
def fit_cmd(log: str | None, output: str | None, calendars: str, recency: str, as_json: bool, **kwargs: Any) -> None:
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
    model = fit(ev, calendars=calendars, recency=rec)  # type: ignore[arg-type]
    if output:
        with atomic_output(output) as tmp:
            model.save(tmp)
    if as_json:
        doc = model.to_summary()
        doc["output"] = output
        emit(doc)
        return
    click.echo(model.summary())
    if output:
        click.echo(f"model written to {output}")


@cli.command("simulate")
@click.argument("model_or_log", required=False)
@_sim_log_options
@click.option("--scenario", "scenario_files", multiple=True, metavar="S.yaml",
              help="An SOP change scenario (YAML); repeat for several. Each is compared with the baseline.")
@click.option("--cases", type=click.IntRange(min=1), default=None, help="Cases per replication (default: 1000).")
@click.option("--replications", type=click.IntRange(min=1), default=5, show_default=True, help="Independent runs, for confidence intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same result).")
@click.option("--start", "sim_start", metavar="ISO", default=None,
              help="First arrival of the simulation (default: where the fitted log ends).")
@click.option("--warmup", type=click.IntRange(min=0), default=0, show_default=True, help="Leading cases left out of the KPIs.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Local processes for the replications (-1: one per core).")
@click.option("--scheduler", metavar="ADDR", default=None, help="Run the replications on a Dask cluster (tcp://host:8786).")
@click.option("-o", "--output", "output", metavar="SIM.csv", help="Write the first replication's log as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def simulate_cmd(model_or_log: str | None, scenario_files: tuple[str, ...], cases: int | None, replications: int,
                 seed: int, sim_start: str | None, warmup: int, jobs: int, scheduler: str | None, output: str | None,
                 as_json: bool, **kwargs: Any) -> None:
    """Simulate MODEL_OR_LOG (a model JSON from 'leanops fit', or a log, fitted first).

    Prints the baseline KPIs with 95% confidence intervals over the replications, and for
    each --scenario its KPIs and the change from the baseline (CI, relative, Welch p-value).
    """
    import pandas as pd

    from .errors import InputError
    from .simulate import SimulationModel, compare, fit, load_scenarios, run

    mapping = pop_mapping(kwargs)
    start_col = kwargs.pop("start_col", None)
    if start_col:
        mapping["start"] = start_col
    if sim_start is not None:
        try:
            pd.Timestamp(sim_start)
        except (TypeError, ValueError):
            raise InputError(f"--start must be an ISO 8601 timestamp; got {sim_start!r}.") from None
    if jobs == 0 or jobs < -1:
        raise InputError(f"--jobs must be >= 1, or -1 for one per core; got {jobs}.")
    n = cases if cases is not None else 1000
    if warmup >= n:
        raise InputError(f"--warmup ({warmup}) must be smaller than --cases ({n}).")
    scenarios = []
    for path in scenario_files:
        scenarios.extend(load_scenarios(os.fspath(path) if path.lower().endswith((".yaml", ".yml")) else _read_text(path)))
    if model_or_log is not None and _is_model_file(model_or_log):
        model = SimulationModel.load(model_or_log)
        source = "model"
    else:
        model = fit(load_log(model_or_log, mapping))
        source = "log"
    with _progress(replications * (1 + len(scenarios)), "simulating", enabled=not as_json) as tick:
        cmp = compare(model, scenarios, replications=replications, cases=n, seed=seed, warmup=warmup,
                      start=sim_start, jobs=jobs, scheduler=scheduler, progress=tick)
    if output:
        first = run(model, cases=n, seed=cmp.seeds[0], warmup=warmup, start=sim_start)
        _write_sim_csv(first.log, output)
    st = sim_start if sim_start is not None else model.start
    doc = {
        "source": source,
        "cases": n,
        "replications": replications,
        "seed": seed,
        "warmup": warmup,
        "start": _utc(st),
        **cmp.to_dict(),
        "output": output,
    }
    if as_json:
        emit(doc)
        return
    click.echo(f"{n:,} cases x {replications} replications, seed {seed}" + (f", first arrival {doc['start']}" if st is not None else ""))
    click.echo(cmp.table())
    if output:
        click.echo(f"simulated log written to {output}")


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
    from .io import convert
    from .scan import scan

    ev = load_log(log, pop_mapping(kwargs))
    out = convert(ev, output, partitions=partitions, overwrite=overwrite)
    s = scan(out)
    doc = {"output": str(out), "files": len(s.files), "events": len(ev), "cases": ev.n_cases,
           "quality": ev.quality.to_dict()}
    if as_json:
        emit(doc)
        return
    click.echo(f"wrote {len(ev):,} activity instances of {ev.n_cases:,} cases to {out} ({len(s.files)} file{'s' if len(s.files) > 1 else ''})")


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


@contextlib.contextmanager
def _progress(total: int, what: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (only on a terminal); yields the callback compare() calls."""
    if not enabled or not sys.stderr.isatty():
        yield lambda done, n: None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=what, unit="run", file=sys.stderr, leave=False)
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
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same result).")
@click.option("--value-added", "value_added", metavar="A,B", default=None,
              help="The value-adding activities (others may be removed or automated).")
@click.option("--cost-per-hour", "cost", type=float, default=None, help="Hourly cost of one resource (shows the cost of capacity).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Local processes for the replications (-1: one per core).")
@click.option("--scheduler", metavar="ADDR", default=None, help="Run the replications on a Dask cluster (tcp://host:8786).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
def suggest_cmd(log: str | None, replications: int, cases: int, seed: int, value_added: str | None, cost: float | None,
                jobs: int, scheduler: str | None, as_json: bool, **kwargs: Any) -> None:
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
    with _progress(replications * 8, "simulating candidates", enabled=not as_json) as tick:
        res = suggest(ev, value_added=va, costs=cost, replications=replications, cases=cases, seed=seed,
                      jobs=jobs, scheduler=scheduler, progress=tick)
    if as_json:
        emit(res.to_dict())
        return
    click.echo(res.table())


# --- entry point
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


if __name__ == "__main__":  # pragma: no cover
    main()
