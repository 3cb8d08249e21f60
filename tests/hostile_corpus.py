"""The hostile-input corpus: generated files and a bounded runner for the CLI.

Shared by ``tests/test_hostile.py`` (a fixed, quick selection) and ``tests/fuzz_hostile.py``
(``make fuzz``: many seeded random variations). Every file is generated here; nothing big is
committed. A run is bounded by ``resource.setrlimit`` (address space, CPU seconds, file
size: a "full disk"), never by a timing assertion.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Bounds of one hostile run: 2 GB of address space and 60 s of CPU are far above what a
#: correct run on these small files needs, and far below a blow-up or a hang.
MEM_BYTES = 2 << 30
CPU_SECONDS = 60

# names that would run in a spreadsheet or drive a terminal
FORMULAS = ["=HYPERLINK(\"http://x.test\",\"click\")", "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3"]
ESCAPES = ["Review\x1b[2J\x1b]0;pwned\x07", "Approve\x1b[31m", "Check\x9b6n"]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.pop("LEANOPS_DEBUG", None)
    e["COLUMNS"] = "120"
    return e


def _limits(mem: int, cpu: int, fsize: int | None):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    return apply


def run(*args: object, cwd: Path, mem: int = MEM_BYTES, cpu: int = CPU_SECONDS, fsize: int | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m leanops ARGS`` under resource limits (the wall timeout is only a guard)."""
    return subprocess.run([sys.executable, "-m", "leanops", *map(str, args)], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=timeout, preexec_fn=_limits(mem, cpu, fsize))


def digest(paths: list[Path]) -> dict[str, str]:
    """Hashes of files (and of the files under folders), to prove no input changed."""
    out: dict[str, str] = {}
    for p in paths:
        for f in ([p] if not p.is_dir() else sorted(x for x in p.rglob("*") if x.is_file())):
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else "missing"
    return out


def defects(res: subprocess.CompletedProcess[str], *, expect: int = 2, before: dict[str, str] | None = None,
            inputs: list[Path] | None = None) -> list[str]:
    """What breaks the bad-input contract: exit code, one line, no traceback, no changed input."""
    bad = []
    if res.returncode != expect:
        bad.append(f"exit {res.returncode} (expected {expect}): {res.stderr.strip()[-300:]}")
    err = res.stderr.strip()
    if expect == 2 and err.count("\n") != 0:
        bad.append(f"stderr has {err.count(chr(10)) + 1} lines: {err[-300:]}")
    if "Traceback" in res.stderr or "Exception ignored" in res.stderr:
        bad.append("traceback on stderr")
    if expect == 2 and ".tmp" in err:
        bad.append(f"temp name in the message: {err}")
    if before is not None and inputs is not None and digest(inputs) != before:
        bad.append("an input file changed")
    return bad


# -- generated inputs -----------------------------------------------------------------------

@dataclass
class LogSpec:
    cases: int = 30
    activities: list[str] = field(default_factory=lambda: ["Triage", "Review", "Approve", "Notify"])
    resources: list[str] = field(default_factory=lambda: ["ann", "bob", "cy"])
    seed: int = 0
    year: int = 2024


def write_log(path: Path, spec: LogSpec | None = None, *, times: list[str] | None = None) -> Path:
    """A small CSV log: each case runs through the activities in order, with waits.
    ``times`` replaces the end times of the first rows (out-of-range or odd timestamps)."""
    spec = spec or LogSpec()
    rng = random.Random(spec.seed)
    lines = ["case_id,activity,start_time,end_time,resource,channel"]
    t = 0
    for c in range(spec.cases):
        t += rng.randint(600, 7200)
        s = t
        for a in spec.activities:
            s += rng.randint(60, 3600)
            e = s + rng.randint(60, 1800)
            lines.append(",".join([f"c{c:04d}", _csv(a), _ts(spec.year, s), _ts(spec.year, e),
                                   _csv(rng.choice(spec.resources)), rng.choice(["web", "phone"])]))
            s = e
    if times:
        for i, v in enumerate(times, start=1):
            parts = lines[i].split(",")
            parts[3] = v
            lines[i] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ts(year: int, s: int) -> str:
    day, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    month, dd = divmod(day, 28)
    return f"{year:04d}-{1 + month % 12:02d}-{1 + dd:02d}T{h:02d}:{m:02d}:{sec:02d}"


def _csv(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n\r') else v


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" YAML document (width ** levels values once expanded)."""
    lines = ['a0: &a0 ["lol"' + ', "lol"' * (width - 1) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"name: bomb\nchanges: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def deep(n: int, *, json_style: bool = False) -> str:
    """Lists nested ``n`` deep."""
    return "[" * n + "]" * n if json_style else "changes: " + "[" * n + "]" * n + "\n"


def gzip_bomb(path: Path, expanded: int, *, head: bytes = b"") -> Path:
    """A small .gz whose content is ``head`` then ``expanded`` bytes of one repeated row."""
    chunk = (b"c1,A,2024-01-01T00:00:00,2024-01-01T00:01:00,r\n" * 20000)
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(head)
        done = 0
        while done < expanded:
            f.write(chunk)
            done += len(chunk)
    return path


def wide_csv(path: Path, columns: int, rows: int = 20) -> Path:
    names = ["case_id", "activity", "end_time"] + [f"x{i}" for i in range(columns)]
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        for r in range(rows):
            f.write(f"c{r % 5},A{r % 3},2024-01-01T{r % 24:02d}:00:00," + ",".join("1" * columns) + "\n")
    return path


def xes_many_attributes(path: Path, n: int) -> Path:
    attrs = "".join(f'<string key="a{i}" value="v"/>' for i in range(n))
    path.write_text(
        '<?xml version="1.0"?><log><trace><string key="concept:name" value="c1"/>'
        f'<event><string key="concept:name" value="A"/><date key="time:timestamp" value="2024-01-01T00:00:00Z"/>{attrs}</event>'
        "</trace></log>", encoding="utf-8")
    return path


def tamper(model_doc: dict, what: str) -> dict:
    """A copy of a model JSON document broken in one way."""
    import copy

    d = copy.deepcopy(model_doc)
    acts = d["activities"]
    if what == "negative_scale":
        acts[0]["duration"] = {"kind": "gamma", "params": [2.0, -5.0]}
    elif what == "zero_shape":
        acts[0]["duration"] = {"kind": "weibull", "params": [0.0, 60.0]}
    elif what == "reversed_uniform":
        acts[0]["duration"] = {"kind": "uniform", "params": [600.0, 60.0]}
    elif what == "negative_std":
        acts[0]["duration"] = {"kind": "normal", "params": [600.0, -1.0]}
    elif what == "huge_mean":
        acts[0]["duration"] = {"kind": "exponential", "params": [1e300]}
    elif what == "start_2300":
        d["start"] = "2300-01-01T00:00:00+00:00"
    elif what == "start_2262":
        d["start"] = "2262-04-01T00:00:00+00:00"
    elif what == "bad_tz":
        d["arrivals"]["tz"] = "Klingon/Qonos"
    elif what == "bad_pool_tz":
        d["pools"][0].setdefault("calendar", {"intervals": [[0, 604800]]})["tz"] = "Mars/Olympus"
    elif what == "self_loop":
        name = acts[0]["name"]
        d["routing"] = [r for r in d["routing"] if r["source"] != name]
        d["routing"].append({"source": name, "next": {name: 1.0}})
        d.pop("traces", None)
    else:
        raise ValueError(what)
    return d


TAMPERS = ("negative_scale", "zero_shape", "reversed_uniform", "negative_std", "huge_mean", "start_2300",
           "start_2262", "bad_tz", "bad_pool_tz", "self_loop")
