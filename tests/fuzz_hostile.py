"""``make fuzz``: a longer, randomised run of the hostile corpus (not part of ``make test``).

Each case draws a hostile variation (seeded: ``--seed``), runs one CLI command under the
resource limits of tests/hostile_corpus.py, and checks the contract: the expected exit code,
one line on stderr, no traceback, no temp name, no changed input. Prints one line per defect
and a summary ``cases, clean, defects``; exits 1 when there is a defect.

    python tests/fuzz_hostile.py --cases 200 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile_corpus as hc  # noqa: E402

Case = Callable[[random.Random, Path, Path], tuple[list, int, list[Path], dict]]


def _names(rng: random.Random, k: int) -> list[str]:
    pool = hc.FORMULAS + hc.ESCAPES + ["A", "B", "Ünïcode ✓", "x" * 300, "", "a,b", 'q"uote', "\u202eevil", "NA", "None"]
    out = []
    while len(out) < k:
        n = rng.choice(pool) or f"step{len(out)}"
        if n not in out:
            out.append(n)
    return out


def case_log_command(rng, d, base):
    acts = _names(rng, rng.randint(2, 5))
    log = hc.write_log(d / "l.csv", hc.LogSpec(cases=rng.randint(3, 40), activities=acts, seed=rng.randint(0, 9999),
                                                resources=_names(rng, 2)))
    cmd = rng.choice([["info"], ["discover"], ["bottlenecks"], ["valuestream"], ["rca", "--waiting"], ["fit"]])
    return [cmd[0], log, *cmd[1:]], 0, [log], {"no_escapes": True}


def case_bad_times(rng, d, base):
    vals = [rng.choice(["1600-01-01T00:00:00", "2300-06-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01",
                        "2024-13-45T99:99:99", "2024-01-01T00:00:00+25:00", "", "NaT", "yesterday"])
            for _ in range(rng.randint(1, 4))]
    log = hc.write_log(d / "t.csv", hc.LogSpec(cases=8, seed=rng.randint(0, 999)), times=vals)
    return ["info", log, "--json"], (0, 2), [log], {}


def case_output_onto_input(rng, d, base):
    log = hc.write_log(d / "in.csv", hc.LogSpec(cases=6))
    (d / "sub").mkdir(exist_ok=True)
    import os

    how = rng.choice(["same", "dotdot", "symlink", "hardlink"])
    target = {"same": "in.csv", "dotdot": "sub/../in.csv", "symlink": "ln.csv", "hardlink": "hl.csv"}[how]
    if how == "symlink":
        os.symlink("in.csv", d / "ln.csv")
    if how == "hardlink":
        os.link(log, d / "hl.csv")
    cmd = rng.choice([["fit", "in.csv", "-o", target], ["simulate", "in.csv", "--cases", "5", "--replications", "1", "-o", target],
                      ["convert", "in.csv", target, "--overwrite"], ["discover", "in.csv", "-o", target]])
    return cmd, 2, [log], {}


def case_tampered_model(rng, d, base):
    doc = json.loads((base / "model.json").read_text())
    p = d / "m.json"
    p.write_text(json.dumps(hc.tamper(doc, rng.choice(hc.TAMPERS))))
    return ["simulate", p, "--cases", "5", "--replications", "1"], 2, [p], {}


def case_yaml(rng, d, base):
    p = d / "s.yaml"
    kind = rng.choice(["bomb", "deep", "count", "loop", "garbage"])
    if kind == "bomb":
        p.write_text(hc.alias_bomb(levels=rng.randint(6, 12), width=rng.randint(6, 12)))
    elif kind == "deep":
        p.write_text(hc.deep(rng.randint(150, 20000)))
    elif kind == "count":
        p.write_text(f"name: c\nchanges:\n  - add_resources: {{activity: Review, count: {rng.choice(['1e6', '1e9', '-1e9', '1e300'])}}}\n")
    elif kind == "loop":
        p.write_text("name: l\nchanges:\n  - set_routing: {from: Review, to: {Review: 1.0}}\n")
    else:
        p.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))))
    cmd = rng.choice([["simulate", base / "model.json", "--scenario", p, "--cases", "5", "--replications", "1"],
                      ["report", base / "log.csv", "--config", p, "-o", d / "r.html"]])
    if kind in ("count", "loop") and cmd[0] == "report":
        return cmd, (0, 2), [p], {}
    return cmd, 2, [p], {}


def case_options(rng, d, base):
    opt = rng.choice([["--seed", str(-rng.randint(1, 10**6))], ["--cases", str(10**rng.randint(8, 12))],
                      ["--start", rng.choice(["2300-01-01", "1600-01-01", "9999-01-01", "soon"])],
                      ["--limit", rng.choice(["cases=0", "x=1", "steps_per_case=abc"])],
                      ["--scheduler", rng.choice(["tcp://127.0.0.1:1", "tcp://:0", "nonsense://x", "tcp://127.0.0.1:1?timeout=-1"])]])
    return ["simulate", base / "model.json", *opt], 2, [], {}


def case_full_disk(rng, d, base):
    cmd = rng.choice([["convert", base / "log.csv", d / "o.parquet"], ["fit", base / "log.csv", "-o", d / "m.json"],
                      ["simulate", base / "model.json", "--cases", "200", "--replications", "1", "-o", d / "s.csv"],
                      ["report", base / "log.csv", "-o", d / "rep"]])
    return cmd, 2, [], {"fsize": rng.choice([0, 100, 2000])}


CASES: list[Case] = [case_log_command, case_bad_times, case_output_onto_input, case_tampered_model, case_yaml,
                     case_options, case_full_disk]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rng = random.Random(a.seed)
    clean = 0
    found: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        import leanops
        from leanops.simulate import fit

        hc.write_log(base / "log.csv")
        fit(leanops.read(base / "log.csv")).save(base / "model.json")
        for i in range(a.cases):
            gen = rng.choice(CASES)
            d = Path(tmp) / f"c{i}"
            d.mkdir()
            args, expect, inputs, opts = gen(rng, d, base)
            before = hc.digest(inputs)
            try:
                res = hc.run(*args, cwd=d, fsize=opts.get("fsize"), timeout=180)
            except Exception as exc:  # the wall guard: a hang the CPU limit did not catch
                found.append(f"case {i} {gen.__name__}: {type(exc).__name__} ({args[:3]})")
                continue
            exp = res.returncode if isinstance(expect, tuple) and res.returncode in expect else (
                expect if not isinstance(expect, tuple) else expect[-1])
            bad = hc.defects(res, expect=exp, before=before, inputs=inputs)
            if opts.get("no_escapes") and any(ch in res.stdout for ch in "\x1b\x07\x9b"):
                bad.append("terminal escape on stdout")
            if bad:
                found.append(f"case {i} {gen.__name__} {[str(x) for x in args][:6]}: {'; '.join(bad)}")
            else:
                clean += 1
    for f in found:
        print(f)
    print(f"cases {a.cases}, clean {clean}, defects {len(found)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
