"""Exports for production and for stakeholders: the spec, a runnable snippet, TREC run files.

>>> from cascade_core.cascade import CascadeSpec
>>> spec = CascadeSpec.from_dict({"first_pass": {"kind": "bm25"}, "pool_size": 50, "final_k": 10})
>>> "CascadeSpec.from_yaml" in python_snippet(spec, "data/my-corpus")
True
"""

from __future__ import annotations

import io
import zipfile

from ..cascade.simulate import CascadeRun
from ..cascade.spec import CascadeSpec

SNIPPET = '''"""Run the cascade "{name}" with cascade_core (pip install -e . in cascade-explorer).

Stop the dashboard first, or set QDRANT_URL: the embedded Qdrant folder serves one process at a time.
"""
from cascade_core.cascade import CascadeSpec
from cascade_core.data import load_dataset
from cascade_core.analysis.experiment import Experiment
from cascade_core.scoring.workspace import Workspace

SPEC = CascadeSpec.from_yaml("""
{yaml}""")

dataset = load_dataset({dataset!r}{split})
experiment = Experiment(dataset, SPEC, Workspace())   # scores persist in $CASCADE_HOME

# One query, end to end through the real models, every stage timed:
live = experiment.live("your query here")
for step in live.steps:
    print(f"{{step.name}}: kept {{len(step.doc_ids)}} in {{step.ms:.1f}} ms")
print(live.final_doc_ids)

# Or evaluate the whole labeled query set (scores once, then simulates):
experiment.ensure_scores()
result = experiment.run(budget_ms={budget})
print(result.evaluation.table().to_string())   # every column, however wide
'''


def python_snippet(spec: CascadeSpec, dataset_path: str, split: str | None = None,
                   budget_ms: float | None = None) -> str:
    """A short runnable Python program that runs ``spec`` with cascade_core."""
    yaml_text = "".join("    " + line if line.strip() else line for line in spec.to_yaml().splitlines(True))
    return SNIPPET.format(name=spec.name or spec.describe(), yaml=yaml_text, dataset=str(dataset_path),
                          split=f", split={split!r}" if split else "", budget=budget_ms)


def trec_run(run: CascadeRun, step: int | None = None, run_name: str | None = None) -> str:
    """One step's kept lists (``None``: the final list) as a TREC run file.

    Lines ``qid Q0 docid rank score run_name``; ranks from 1; scores strictly decreasing per query
    is not required by trec_eval, but it re-sorts by score, so the step's own scores are written.
    """
    st = run.final if step is None else run.steps[step]
    name = (run_name or (run.spec.name or "cascade")).replace(" ", "_") + f"-{st.name.replace(' ', '_')}"
    cols, valid = st.kept()
    lines = []
    for qi, qid in enumerate(run.matrix.query_ids):
        rank = 0
        for c, ok, score in zip(cols[qi], valid[qi], st.scores[qi, : st.keep]):
            if not ok:
                continue
            rank += 1
            doc = run.matrix.doc_ids[run.matrix.docs[qi, c]]
            lines.append(f"{qid} Q0 {doc} {rank} {float(score):.6f} {name}")
    return "\n".join(lines) + ("\n" if lines else "")


def trec_run_files(run: CascadeRun, run_name: str | None = None) -> dict[str, str]:
    """Every step's run file and the final one: ``{"0-first_pass.run": text, ..., "final.run": text}``."""
    files = {f"{i}-{st.name.replace(' ', '_').replace('#', '')}.run": trec_run(run, i, run_name)
             for i, st in enumerate(run.steps)}
    files["final.run"] = trec_run(run, None, run_name)
    return files


def trec_runs_zip(run: CascadeRun, run_name: str | None = None) -> bytes:
    """Every step's run file and the final one, zipped (``<step>.run``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in trec_run_files(run, run_name).items():
            zf.writestr(name, text)
    return buf.getvalue()
