"""Write the example notebooks from the cells below, execute them, and save them with outputs.

    python notebooks/build_notebooks.py            # both
    python notebooks/build_notebooks.py 01         # the ones whose name starts with 01

The kernel is the running interpreter, through a kernel spec written to a temporary
folder (nothing is registered globally). The test suite executes the saved notebooks
again (tests/test_report_notebooks.py), so they never rot.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


QUICKSTART = [
    md("""
# Quickstart: from an event log to the bottleneck

This notebook walks the path an analyst takes with a new export: **read** the log and check
its quality, draw the **process map**, build the **value stream** (where the time goes),
rank the **bottlenecks**, and find out **why** cases wait and why some take long.

It runs on the log bundled with leanops: a small manufacturing process (`production`), with
start and end times for every activity, 225 cases over three months.
"""),
    code("""
%matplotlib inline
import leanops

log = leanops.datasets.load("production")
log
"""),
    md("""
## 1. Read, and check the data before trusting it

Columns are mapped once, when the log is read. The quality report says what was read, kept,
repaired or dropped. Nothing is dropped silently: here 51 exact duplicate rows are kept
(as in the source) and reported.
"""),
    code("""
log.quality
"""),
    md("""
## 2. The process map

A directly-follows map: nodes are activities (count and mean processing time), edges are
"directly followed by" (mean wait on the edge, width by frequency). The full map of 26
activities is a spaghetti; like a map's sliders, `activities=` and `paths=` keep the
activities and paths that cover most of the work, and keep every activity connected.
"""),
    code("""
g = leanops.discover(log, activities=0.95, paths=0.7)
g
"""),
    md("""
The frequent paths (taken at least 20 times) with the longest mean waits, over the full
map:
"""),
    code("""
full = leanops.discover(log)
full.edges.query("count >= 20").sort_values("wait_mean_s", ascending=False).head(5)
"""),
    md("""
## 3. The value stream: where the lead time goes

Every instant of a case's lead time is attributed to one step, as processing or as waiting
before it, so the shares add up to 100 %. Process cycle efficiency (PCE) is processing over
lead time.
"""),
    code("""
vs = leanops.value_stream(log)
vs
"""),
    code("""
vs.plot();
"""),
    md("""
Almost nine tenths of the lead time is waiting, not work: speeding up the work itself
would barely move the lead time. The question is where the waiting is, and why.

## 4. Bottlenecks

The score combines three things: the share of all waiting that happens before the step,
how busy its team was during those waits (contention), and how busy the team is overall
(utilisation). Each row carries its evidence in a sentence.
"""),
    code("""
b = leanops.bottlenecks(log)
b[["rank", "activity", "score", "wait_mean_s", "wait_share", "contention", "utilization", "pool"]].head(5)
"""),
    code("""
print(b["evidence"].iloc[0])
"""),
    md("""
## 5. Why do cases wait?

Each wait is split into batching, contention (the performer busy with earlier cases),
prioritisation (busy with later ones), unavailability (off shift) and extraneous (the rest).
"""),
    code("""
wc = leanops.rca.waiting_causes(log)
print(wc)
"""),
    code("""
wc.plot().figure
"""),
    md("""
## 6. Why do some cases take so long?

`root_causes` turns every case into features (attributes, who did the work, the path, the
time of arrival, the workload) and ranks the conditions that make cases longer, each with
its effect, a 95 % confidence interval and an adjusted p-value.
"""),
    code("""
rc = leanops.root_causes(log, target="case_duration", seed=0)
print(rc)
"""),
    code("""
rc.plot("effects").figure
"""),
    md("""
## What an analyst would decide

* The top-ranked step queues a large share of all waiting, but its team was mostly idle
  *while* the work waited, and most of that wait falls outside the team's working hours.
  **Hiring for that step would not help.** Aligning its shifts with the upstream steps, or
  releasing work to it more often, would.
* Waiting dominates the lead time, and repeats of the machining and inspection steps
  (loops in the map) are among the drivers of long cases: fewer repeats shorten cases more
  than faster machining.
* Before rolling such changes out, test them: `02_simulate_sop_change.ipynb` fits a
  simulation model to this log and compares scenarios with confidence intervals.

## 7. The same analysis as a report to mail

`leanops report` (or `build_report` here) writes all of the above as one self-contained
HTML page, plus Markdown and JSON for wikis and pipelines.
"""),
    code("""
rep = leanops.build_report(log)
rep.save("production_report.html")
for line in rep.section("summary").summary:
    print("-", line.replace("**", ""))
"""),
]


SIMULATE = [
    md("""
# Simulate an SOP change before rolling it out

The purchasing team wants to shorten the time from a purchase requisition to payment. Two
ideas are on the table: standard supplier terms with an automated request for quotation,
and one more buyer for the step where requests wait longest. This notebook does what the
analyst would do before deciding: **fit** a simulation model to the log, **validate** it on
recent cases it has not seen, state the ideas as **scenarios**, **compare** them with
confidence intervals, and let leanops **suggest** changes of its own, simulated the same way.

The log is the bundled `purchasing_example` (608 cases, 9,119 activity instances).
"""),
    code("""
%matplotlib inline
import leanops
from leanops import simulate

log = leanops.datasets.load("purchasing_example")
log
"""),
    md("""
## 1. How far can the simulation be trusted?

Fit a model on the first 80 % of cases (by start) and simulate the remaining 20 % from
their first arrival. Compare both the simulated log and the *persistence baseline* (the
most recent training cases replayed) with what actually happened, with the distance
measures Simod uses. Lower is closer; a model worth trusting beats the baseline.
"""),
    code("""
split = simulate.split_by_time(log, train=0.8)
model_past = simulate.fit(split.train, seed=0)
validation = simulate.validate(model_past, split.test, train_log=split.train, seed=0)
validation.to_frame()
"""),
    md("""
Read this table before any scenario result. Where the model does not beat the persistence
baseline (here on most measures: the recent past is a strong forecast for this log), its
absolute numbers are not a forecast. Scenario results are still useful *relative to the
simulated baseline*: both run on the same model with the same random numbers, so their
difference isolates the effect of the change.

## 2. The baseline model, fitted on the whole log
"""),
    code("""
model = simulate.fit(log, seed=0)
model
"""),
    md("""
## 3. The SOP changes, as scenarios

Scenarios name activities, never internal identifiers, and are checked against the model:
an unknown activity is an error that suggests the closest names. They are YAML (a file or
text), or the same structure in Python.
"""),
    code("""
scenarios = simulate.load_scenarios('''
- name: supplier templates, automated RFQ
  changes:
    - scale_duration: {activity: Settle Conditions With Supplier, factor: 0.7}
    - automate: {activity: Send Request for Quotation to Supplier, duration: 1min}
- name: one more buyer
  changes:
    - add_resources: {activity: Analyze Request for Quotation, count: 1}
''')
[s.name for s in scenarios]
"""),
    md("""
## 4. Compare, with confidence intervals

Each scenario runs 5 replications of 300 cases; replication *k* of every scenario uses
the same random numbers as the baseline's. Each KPI gets a mean and a 95 % CI, and each
change a CI and a Welch p-value (`*` marks p < 0.05).
"""),
    code("""
cmp = simulate.compare(model, scenarios, replications=5, cases=300, seed=0)
print(cmp.table(["cycle_time_mean_s", "cycle_time_p90_s", "wait_mean_s", "wip_mean"]))
"""),
    code("""
cmp.plot("cycle_time_mean_s");
"""),
    md("""
Neither idea moves the lead time: the templates shorten work, but this process's lead time
is mostly waiting, so shorter work barely shows; and the extra buyer relieves a team that
was mostly idle while requests queued (the bottleneck evidence below says so). Both would cost
money and change nothing a customer notices.

## 5. Let leanops suggest changes

`suggest` builds candidates from the analyses (more capacity at the top bottleneck, less
rework at the worst loop, removing or automating a non-value-added step, shifting hours to
when work arrives, prioritising the class that waits longest), simulates each like the
scenarios above, and ranks them by the change in mean lead time.
"""),
    code("""
suggestions = simulate.suggest(log, model=model, replications=5, cases=300, seed=0)
print(suggestions.table())
"""),
    code("""
suggestions.to_frame()[["rank", "name", "kind", "relative", "ci_low", "ci_high", "p_value"]]
"""),
    md("""
## What an analyst would decide

* **Do not hire the extra buyer, and do not expect the templates to shorten lead time.**
  Both were tested and neither moves it beyond noise.
* **Attack the rework loop instead.** Halving the returns to the amendment step is the one
  candidate with a large simulated effect whose confidence interval excludes zero. The SOP
  change behind it is concrete: check requests for completeness before they are analysed,
  so fewer come back for amendment.
* **Pilot it, then check.** The validation above says the model's absolute numbers are not
  a forecast, so roll the change out to one team, measure the lead time with
  `leanops report --since <pilot start>`, and compare with the simulated direction: that is
  the Check of the PDCA cycle.
"""),
]


SOP_COMPLIANCE = [
    md("""
# Is the SOP followed, what does deviating cost, and did the change work?

The Check of a PDCA cycle, on the bundled `purchasing_example` log (608 cases). The
standard operating procedure is a YAML file, `examples/sop_purchasing.yaml`: order rules,
time limits counted in office hours, who may approve, and a four-eyes rule. leanops checks
every rule on every case, measures what each deviation costs in lead time (adjusted for
the other deviations, with confidence intervals), and compares before and after a change.
"""),
    code("""
%matplotlib inline
from pathlib import Path
import leanops

log = leanops.datasets.load("purchasing_example")
sop_path = Path(leanops.__file__).resolve().parents[1] / "examples" / "sop_purchasing.yaml"
sop = leanops.read_sop(sop_path, log=log)   # unknown activities are errors with the closest names
print(sop)
"""),
    md("""
## 1. Compliance per rule, and the cost of each deviation

`compliance` is the share of the cases a rule applies to that satisfy it; `effect_s` is how
much longer the violating cases take, adjusted for the other deviations, with a 95 % CI.
`basis` says what each number rests on. A rule that cannot be measured on the log says so
instead of guessing.
"""),
    code("""
res = leanops.check(log, sop, seed=0)
res
"""),
    code("""
res.plot("cost").figure
"""),
    md("""
## 2. Which cases, which weeks, which people
"""),
    code("""
res.violations.head()
"""),
    code("""
res.plot("trend").figure
"""),
    code("""
by = res.by_resource
by[by["violations"] > 0].sort_values("violations", ascending=False).head(8)
"""),
    md("""
## 3. A starting point for an SOP, from the log

`draft_sop` proposes rules that hold for 95 % of the cases; the analyst edits the YAML.
"""),
    code("""
print(leanops.draft_sop(log).to_yaml())
"""),
    md("""
## 4. Did the change work? Before and after

Suppose a change went live on 1 June 2011. `compare` splits the cases by their start,
reweights the after cases to the before mix of case attributes and arrival volume, and
gives every KPI a CI and a p-value. Arrivals dropped sharply in this log after June: read
the notes before crediting any change with a shorter lead time.
"""),
    code("""
cmp = leanops.compare(log, change_at="2011-06-01", sop=sop, seed=0)
print(cmp)
"""),
    code("""
cmp.plot().figure
"""),
]


NOTEBOOKS = {"01_quickstart.ipynb": QUICKSTART, "02_simulate_sop_change.ipynb": SIMULATE,
             "03_sop_compliance.ipynb": SOP_COMPLIANCE}


def kernel_spec_dir() -> str:
    """A temporary Jupyter data dir with a kernel spec for the running interpreter."""
    tmp = tempfile.mkdtemp(prefix="leanops-kernel-")
    spec = Path(tmp) / "kernels" / "leanops-nb"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "leanops (this interpreter)",
        "language": "python",
    }))
    return tmp


def execute(nb, *, cwd: str | os.PathLike[str], timeout: int = 600):
    """Run ``nb`` in ``cwd`` with a kernel of this interpreter that imports this checkout."""
    env_before = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "PYTHONPATH")}
    os.environ["JUPYTER_PATH"] = kernel_spec_dir()
    os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_before["PYTHONPATH"] if env_before["PYTHONPATH"] else "")
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="leanops-nb", resources={"metadata": {"path": str(cwd)}})
        client.execute()
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


def build(name: str, cells) -> Path:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    with tempfile.TemporaryDirectory() as work:
        execute(nb, cwd=work)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out = HERE / name
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    wanted = sys.argv[1:]
    for name, cells in NOTEBOOKS.items():
        if not wanted or any(name.startswith(w) for w in wanted):
            print("built", build(name, cells))
