"""SciFact's train queries split into train and dev, for choosing a distillation recipe without the
test queries (issue 26's recipe search).

    python benchmarks/scifact_dev_split.py --scifact ../shared/data/scifact --out /tmp/scifact-dev

Writes ``OUT/qrels/train.tsv`` (80% of the train queries) and ``OUT/qrels/dev.tsv`` (the other
20%: ``random.Random(2026).sample`` over the train query ids sorted as numbers), with
``corpus.jsonl`` and ``queries.jsonl`` linked from the SciFact folder; the test split is not
copied. Then, for example::

    cascade distill --dataset OUT --train-split train --split dev --out student-a --json a.json
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

DEV_SHARE = 0.2
SEED = 2026


def split(scifact: Path, out: Path) -> tuple[int, int]:
    """Write the split; returns (train queries, dev queries)."""
    lines = (scifact / "qrels" / "train.tsv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line.split("\t") for line in lines[1:] if line.strip()]
    qids = sorted({r[0] for r in rows}, key=int)
    dev = set(random.Random(SEED).sample(qids, round(len(qids) * DEV_SHARE)))
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    for name, keep in (("train", lambda q: q not in dev), ("dev", lambda q: q in dev)):
        body = [header] + ["\t".join(r) for r in rows if keep(r[0])]
        (out / "qrels" / f"{name}.tsv").write_text("\n".join(body) + "\n", encoding="utf-8")
    for name in ("corpus.jsonl", "queries.jsonl"):
        link = out / name
        if not link.exists():
            link.symlink_to((scifact / name).resolve())
    return len(qids) - len(dev), len(dev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scifact", type=Path, default=Path("../shared/data/scifact"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    train, dev = split(args.scifact, args.out)
    print(f"{args.out}: {train} train queries, {dev} dev queries")


if __name__ == "__main__":
    main()
