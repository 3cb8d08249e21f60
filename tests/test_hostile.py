"""Hostile and extreme input (issue 18): no lost data, no hangs, no memory blow-ups, no
internal errors. Every CLI case runs in a subprocess bounded by RLIMIT_AS / RLIMIT_CPU
(tests/hostile_corpus.py) and asserts exit code, one line on stderr, no traceback and
unchanged inputs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import hostile_corpus as hc

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with a small log, its canonical Parquet, a fitted model and its JSON."""
    import leanops
    from leanops.simulate import fit

    d = tmp_path_factory.mktemp("hostile")
    log = hc.write_log(d / "log.csv")
    ev = leanops.read(log)
    leanops.convert(ev, d / "log.parquet")
    fit(ev).save(d / "model.json")
    return d


def _model_doc(work: Path) -> dict:
    return json.loads((work / "model.json").read_text())


def check(res, *, expect=2, inputs=(), before=None, fragment=None):
    bad = hc.defects(res, expect=expect, before=before, inputs=list(inputs))
    assert not bad, bad
    if fragment:
        assert fragment.lower() in res.stderr.lower(), res.stderr


# -- 1. data loss: an output never replaces an input ------------------------------------------

@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotdot"])
def test_simulate_output_never_replaces_its_input(tmp_path, how):
    log = hc.write_log(tmp_path / "same.csv", hc.LogSpec(cases=12))
    (tmp_path / "sub").mkdir()
    target = {"same": "same.csv", "symlink": "link.csv", "hardlink": "hard.csv", "dotdot": "sub/../same.csv"}[how]
    if how == "symlink":
        os.symlink("same.csv", tmp_path / "link.csv")
    if how == "hardlink":
        os.link(log, tmp_path / "hard.csv")
    before = hc.digest([log])
    res = hc.run("simulate", "same.csv", "--cases", "5", "--replications", "1", "-o", target, cwd=tmp_path)
    check(res, inputs=[log], before=before, fragment="input")


def test_fit_and_convert_refuse_their_input(work, tmp_path):
    ins = [work / "log.csv", work / "log.parquet"]
    before = hc.digest(ins)
    check(hc.run("fit", "log.csv", "-o", "log.csv", cwd=work), inputs=ins, before=before, fragment="input")
    check(hc.run("convert", "log.parquet", "./log.parquet", "--overwrite", cwd=work), inputs=ins, before=before,
          fragment="input")


def test_outputs_that_are_folders_read_only_or_devices(work, tmp_path):
    ro = tmp_path / "ro.json"
    ro.write_text("{}")
    ro.chmod(0o444)
    check(hc.run("fit", work / "log.csv", "-o", tmp_path, cwd=tmp_path), fragment="folder")
    check(hc.run("fit", work / "log.csv", "-o", ro, cwd=tmp_path), fragment="read-only")
    assert ro.read_text() == "{}"
    modes = {p: os.stat(p).st_mode for p in ("/dev/null", "/dev/full") if os.path.exists(p)}
    try:
        if "/dev/full" in modes:
            check(hc.run("fit", "log.csv", "-o", "/dev/full", cwd=work), fragment="/dev/full")
        res = hc.run("fit", "log.csv", "-o", "/dev/null", "--json", cwd=work)
        check(res, expect=0)
    finally:
        for p, mode in modes.items():
            if not stat.S_ISCHR(os.stat(p).st_mode):  # put the device back before failing (we may be root)
                os.unlink(p)
                os.mknod(p, mode, os.makedev(1, 3 if p == "/dev/null" else 7))
                pytest.fail(f"{p} became a regular file")


def test_write_to_dev_stdout_goes_to_stdout(work):
    res = hc.run("simulate", "model.json", "--cases", "5", "--replications", "1", "-o", "/dev/stdout", cwd=work)
    check(res, expect=0)
    assert res.stdout.startswith("case_id,activity,start_time,end_time,resource")
    assert os.path.islink("/dev/stdout") or stat.S_ISCHR(os.stat("/dev/stdout").st_mode)


def test_full_disk_keeps_the_old_output(work, tmp_path):
    old = tmp_path / "out.parquet"
    import leanops

    leanops.convert(leanops.read(work / "log.csv"), old)
    before = hc.digest([old])
    res = hc.run("convert", work / "log.csv", old, "--overwrite", cwd=tmp_path, fsize=2000)
    check(res, fragment="cannot write")
    assert hc.digest([old]) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]  # no temp file left
    res = hc.run("simulate", work / "model.json", "--cases", "50", "--replications", "1", "-o", tmp_path / "s.csv",
                 cwd=tmp_path, fsize=1000)
    check(res, fragment="s.csv")
    assert not (tmp_path / "s.csv").exists()


def test_parallel_converts_end_with_one_complete_result(work, tmp_path):
    import leanops

    log = hc.write_log(tmp_path / "big.csv", hc.LogSpec(cases=200))
    results = []

    def go():
        results.append(hc.run("convert", log, "parts", "--partitions", "8", "--overwrite", cwd=tmp_path))

    threads = [threading.Thread(target=go) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for r in results:
        check(r, expect=0)
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == [f"part-{i:05d}.parquet" for i in range(8)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "parts"]
    back = leanops.read(tmp_path / "parts")
    assert back.n_cases == 200 and back.quality.rows_kept == len(back) == 800


# -- 2. hangs: routing that never ends, huge counts, silent schedulers ------------------------

def test_refused_before_they_run(work, tmp_path):
    (tmp_path / "many.yaml").write_text("name: many\nchanges:\n  - add_resources: {activity: Review, count: 1000000000}\n")
    (tmp_path / "loop.yaml").write_text("name: loop\nchanges:\n  - set_routing: {from: Review, to: {Review: 1.0}}\n")
    (tmp_path / "loop.json").write_text(json.dumps(hc.tamper(_model_doc(work), "self_loop")))
    m = work / "model.json"
    check(hc.run("simulate", m, "--scenario", "many.yaml", "--cases", "10", cwd=tmp_path), fragment="pool_size")
    check(hc.run("simulate", m, "--scenario", "loop.yaml", "--cases", "10", cwd=tmp_path), fragment="Review")
    check(hc.run("simulate", "loop.json", "--cases", "10", cwd=tmp_path), fragment="reach the end")
    check(hc.run("simulate", m, "--cases", "100000000", cwd=tmp_path), fragment="--limit cases")


def test_a_scheduler_that_accepts_and_never_answers(work):
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    try:
        res = hc.run("simulate", "model.json", "--cases", "5", "--replications", "2",
                     "--scheduler", f"tcp://127.0.0.1:{port}?timeout=2", cwd=work, cpu=30)
        check(res, fragment="no Dask scheduler answered")
    finally:
        srv.close()


def test_step_limit_names_the_loop(work):
    from leanops.errors import InputError
    from leanops.simulate import SimulationModel, run, run_limits

    doc = _model_doc(work)
    name = doc["activities"][0]["name"]
    doc.pop("traces", None)
    doc["routing"] = [r for r in doc["routing"] if r["source"] != name]
    doc["routing"].append({"source": name, "next": {name: 0.999, "__end__": 0.001}})
    model = SimulationModel.from_dict(doc)  # valid: the end is reachable
    with run_limits(steps_per_case=30), pytest.raises(InputError, match=rf"steps_per_case.*|{name}"):
        run(model, cases=20, seed=1)


# -- 3. memory: alias bombs, deep nesting, decompression bombs, wide files --------------------

def test_yaml_and_json_bombs(work, tmp_path):
    (tmp_path / "bomb.yaml").write_text(hc.alias_bomb())
    (tmp_path / "deep.yaml").write_text(hc.deep(10_000))
    (tmp_path / "deep.json").write_text('{"format": "leanops.simulation_model", "x": ' + hc.deep(10_000, json_style=True) + "}")
    m = work / "model.json"
    check(hc.run("simulate", m, "--scenario", "bomb.yaml", "--cases", "10", cwd=tmp_path, mem=1 << 30), fragment="max_")
    check(hc.run("simulate", m, "--scenario", "deep.yaml", "--cases", "10", cwd=tmp_path), fragment="max_depth")
    check(hc.run("simulate", "deep.json", "--cases", "10", cwd=tmp_path), fragment="max_depth")
    check(hc.run("report", work / "log.csv", "--config", "bomb.yaml", "-o", "r.html", cwd=tmp_path, mem=1 << 30),
          fragment="max_")


def test_yaml_limits_in_python():
    from leanops._yaml import load_json, load_yaml
    from leanops.errors import InputError

    assert load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(InputError, match="max_nodes"):
        load_yaml(hc.alias_bomb(levels=6, width=10), max_nodes=10_000)
    with pytest.raises(InputError, match="max_aliases"):
        load_yaml("a: &x 1\nb: [" + ", ".join(["*x"] * 20) + "]", max_aliases=10)
    assert len(load_yaml("a: &x 1\nb: [" + ", ".join(["*x"] * 20) + "]", max_aliases=20)["b"]) == 20
    with pytest.raises(InputError, match="max_depth=100"):
        load_yaml(hc.deep(500))
    assert isinstance(load_yaml(hc.deep(150), max_depth=200)["changes"], list)
    with pytest.raises(InputError, match="max_depth"):
        load_json(hc.deep(100_000, json_style=True))
    assert load_json('["[[[[", {"a": "]]"}]') == ["[[[[", {"a": "]]"}]  # brackets in strings do not count


def test_gzip_bomb_csv(tmp_path):
    p = hc.gzip_bomb(tmp_path / "bomb.csv.gz", 600 << 20, head=b"case_id,activity,end_time,resource\n")
    assert p.stat().st_size < 5 << 20
    before = hc.digest([p])
    res = hc.run("info", p, cwd=tmp_path, cpu=20)
    check(res, expect=0 if res.returncode == 0 else 2, inputs=[p], before=before)  # refused, or read within bounds


def test_wide_csv_and_many_xes_attributes(tmp_path):
    for p in (hc.wide_csv(tmp_path / "wide.csv", 50_000), hc.xes_many_attributes(tmp_path / "many.xes", 100_000)):
        res = hc.run("info", p, cwd=tmp_path, cpu=10)
        check(res, expect=0 if res.returncode == 0 else 2)  # refused naming the limit, or read within bounds


# -- 4. injection into what users open next ---------------------------------------------------

def test_csv_formulas_are_neutralised(tmp_path):
    import pandas as pd

    import leanops

    spec = hc.LogSpec(cases=15, activities=hc.FORMULAS[:2] + ["Plain"], resources=hc.FORMULAS[2:])
    log = hc.write_log(tmp_path / "f.csv", spec)
    res = hc.run("simulate", log, "--cases", "10", "--replications", "1", "-o", "sim.csv", cwd=tmp_path)
    check(res, expect=0)
    sim = pd.read_csv(tmp_path / "sim.csv", dtype=str, keep_default_na=False)
    cells = set(sim["activity"]) | set(sim["resource"])
    assert not any(c.startswith(("=", "+", "@")) for c in cells), cells
    assert "'=HYPERLINK(\"http://x.test\",\"click\")" in cells and "-2+3" not in cells and "'-2+3" in cells
    ev = leanops.read(log)
    leanops.write(ev, tmp_path / "w.csv")
    text = (tmp_path / "w.csv").read_text()
    assert "\n=" not in text and ",=" not in text and ",'@SUM" in text
    leanops.write(ev, tmp_path / "raw.csv", formulas="keep")
    assert ",@SUM(A1:A9)" in (tmp_path / "raw.csv").read_text()


def test_neutralise_leaves_numbers_alone():
    import pandas as pd

    from leanops._files import neutralise_formulas

    df = pd.DataFrame({"s": ["-5", "-1.5e3", "-x", "\t=1", "a-b", None], "n": [-5, -1, 0, 1, 2, 3]})
    out, n = neutralise_formulas(df)
    assert out["s"].tolist() == ["-5", "-1.5e3", "'-x", "'\t=1", "a-b", None] and n == 2
    assert out["n"].tolist() == df["n"].tolist()


@pytest.mark.parametrize("cmd", [["bottlenecks"], ["valuestream"], ["rca", "--waiting"], ["fit"],
                                 ["simulate", "--cases", "10", "--replications", "1"], ["discover"]])
def test_terminal_escapes_never_reach_the_terminal(tmp_path, cmd):
    log = hc.write_log(tmp_path / "esc.csv", hc.LogSpec(cases=25, activities=hc.ESCAPES, resources=["r\x1b[1m", "s"]))
    res = hc.run(cmd[0], log, *cmd[1:], cwd=tmp_path)
    check(res, expect=0)
    assert not any(ch in res.stdout for ch in "\x1b\x07\x9b"), repr(res.stdout[:400])
    assert "Review" in res.stdout or "Approve" in res.stdout or "Check" in res.stdout


def test_report_shows_the_file_name_not_the_path(work, tmp_path):
    res = hc.run("report", work / "log.csv", "-o", "r.html", cwd=tmp_path)
    check(res, expect=0)
    html = (tmp_path / "r.html").read_text()
    assert "source: log.csv" in html and str(work) not in html
    res = hc.run("report", work / "log.csv", "-o", "full.json", "--full-path", cwd=tmp_path)
    check(res, expect=0)
    assert str(work / "log.csv") in (tmp_path / "full.json").read_text()


# -- 5. internal errors where the input is at fault -------------------------------------------

@pytest.mark.parametrize("what", hc.TAMPERS)
def test_tampered_model_json_names_the_field(work, what):
    from leanops.errors import ModelError
    from leanops.simulate import SimulationModel

    field = {"negative_scale": "duration", "zero_shape": "duration", "reversed_uniform": "duration",
             "negative_std": "duration", "huge_mean": "duration", "start_2300": "start", "start_2262": "start",
             "bad_tz": "arrivals.tz", "bad_pool_tz": "calendar.tz", "self_loop": "routing"}[what]
    with pytest.raises(ModelError, match=field):
        SimulationModel.from_dict(hc.tamper(_model_doc(work), what))


def test_tampered_model_and_bad_options_from_the_cli(work, tmp_path):
    (tmp_path / "neg.json").write_text(json.dumps(hc.tamper(_model_doc(work), "negative_scale")))
    check(hc.run("simulate", "neg.json", "--cases", "5", cwd=tmp_path), fragment="scale")
    check(hc.run("simulate", work / "model.json", "--seed", "-1", cwd=tmp_path), fragment="seed")
    check(hc.run("rca", work / "log.csv", "--seed", "-1", cwd=tmp_path), fragment="seed")
    check(hc.run("simulate", work / "model.json", "--start", "2300-01-01", cwd=tmp_path), fragment="--start")
    check(hc.run("simulate", work / "model.json", "--limit", "cases=-3", cwd=tmp_path), fragment="--limit")


def test_report_batch_on_a_full_disk(work, tmp_path):
    res = hc.run("report", work / "log.csv", "-o", tmp_path / "out", cwd=tmp_path, fsize=4000)
    assert res.returncode == 2 and "Traceback" not in res.stderr and ".tmp" not in res.stderr, res.stderr
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


@pytest.mark.parametrize("value", ["1600-01-01T00:00:00", "2300-01-01T00:00:00", "9999-12-31T00:00:00"])
def test_out_of_range_times_are_counted(tmp_path, value):
    log = hc.write_log(tmp_path / "t.csv", hc.LogSpec(cases=6), times=[value])
    res = hc.run("info", log, "--json", cwd=tmp_path)
    if res.returncode == 0:
        doc = json.loads(res.stdout)
        assert sum(doc["quality"]["dropped"].values()) >= 1
    else:
        check(res)


@pytest.mark.parametrize("args", [["--encoding", "klingon"], ["--tz", "Klingon/Qonos"]])
def test_reader_options(tmp_path, args):
    log = hc.write_log(tmp_path / "l.csv", hc.LogSpec(cases=4))
    check(hc.run("info", log, *args, cwd=tmp_path), inputs=[log], before=hc.digest([log]))


def test_mixed_naive_and_aware_times(tmp_path):
    log = hc.write_log(tmp_path / "m.csv", hc.LogSpec(cases=6), times=["2024-01-01T10:00:00+02:00"])
    res = hc.run("info", log, "--json", cwd=tmp_path)
    assert res.returncode in (0, 2) and "Traceback" not in res.stderr


def test_na_strings_give_the_same_result_in_both_readers(tmp_path):
    import leanops

    rows = ["case_id,activity,end_time"] + [f"{c},A,2024-01-0{i + 1}T00:00:00" for i, c in enumerate(["NA", "None", "null", "nan", "c5"])]
    (tmp_path / "fast.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "slow.csv").write_text("\n".join(rows + ["c6,A"]) + "\n")  # one short row: the fallback reader
    a, b = leanops.read(tmp_path / "fast.csv"), leanops.read(tmp_path / "slow.csv")
    assert sorted(a.df["case_id"].astype(str)) == sorted(b.df["case_id"].astype(str))


# -- the writer itself -------------------------------------------------------------------------

def test_atomic_path_refuses_inputs_and_keeps_old_output_on_failure(tmp_path):
    import leanops
    from leanops._files import atomic_path, register_input, run_scope
    from leanops.errors import InputError

    p = tmp_path / "a.txt"
    p.write_text("old")
    with run_scope():
        register_input(tmp_path / "." / "a.txt")
        with pytest.raises(InputError, match="input"):
            with atomic_path(p) as tmp:
                tmp.write_text("new")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert p.read_text() == "old" and sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]
    log = leanops.read(hc.write_log(tmp_path / "l.csv", hc.LogSpec(cases=3)))
    with pytest.raises(InputError, match="input"):
        leanops.write(log, tmp_path / "l.csv")


def test_no_command_writes_outside_the_writer():
    """Every open-for-writing in the package goes through leanops._files (the one writer)."""
    import re

    pkg = Path(__file__).resolve().parents[1] / "leanops"
    offenders = []
    for f in pkg.rglob("*.py"):
        if f.name == "_files.py":
            continue
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"open\([^)]*[\"'][wax]b?[\"']", line) and "atomic" not in line and "tmp" not in line:
                offenders.append(f"{f.name}:{i}: {line.strip()}")
    assert not offenders, offenders
