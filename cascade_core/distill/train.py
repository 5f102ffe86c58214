"""Training the student: listwise distillation on CPU, with checkpoints that survive ``kill -9``.

Each optimiser step takes ``batch_queries`` training queries and, for each, a list of
``per_query`` of its candidates: half from the teacher's top ``top`` (what the student must
order), half from the rest of the first-pass list (what it must push down), and with
``labels`` > 0 the judged-relevant ones first. The student scores every pair; the loss compares
its scores with the teacher's over each list:

* ``listwise``: cross-entropy between softmax(teacher / temperature) and softmax(student) (a
  KL divergence up to a constant): the student learns the teacher's order, at any scale.
* ``margin-mse``: for every two candidates of a list, (student difference - teacher difference
  / temperature) squared.

``labels`` adds that much to the teacher score of judged-relevant candidates (teacher scores
span about one unit per query), mixing the judgments in.

Which lists a step sees depends only on the seed and the step number, so a run resumed from a
checkpoint (model, optimiser, schedule, random state) continues exactly as it would have.

>>> DistillSettings(pairs=1000, per_query=8, batch_queries=4).steps
32
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import resource
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import CascadeError, ScoringCancelled, TrainingCancelled
from ..progress import ProgressCallback, ProgressEvent
from .student import BASE_MODEL, init_student, save_student
from .teacher import TrainingSet

LOSSES = ("listwise", "margin-mse")
HEAD = ("classifier", "bert.pooler")   # parameters the base model does not train: the fresh head
CHECKPOINT = ".checkpoint"          # inside the output folder; removed when training completes


@dataclass(frozen=True)
class DistillSettings:
    """How the student is built and trained (defaults: the recipe chosen by measurement, README)."""

    base: str = BASE_MODEL
    layers: int = 6               # first layers of the base model kept
    max_length: int = 128         # tokens per (query, document) pair in training
    serve_length: int = 128       # tokens per pair the saved student reads (as trained)
    loss: str = "listwise"
    temperature: float = 0.1      # teacher score units per logit
    per_query: int = 8            # candidates in each query's list
    top: int = 10                 # half of each list comes from the teacher's top `top`
    batch_queries: int = 1        # lists per optimiser step (4 with as many pairs: 4x fewer steps, and
                                  # the loss never left its start, ln 8, in 250 steps)
    pairs: int = 16000            # (query, document) pairs seen in training, in all (~18 min here)
    lr: float = 5e-5              # peak learning rate of the encoder (1e-4: 5 points worse)
    head_lr: float = 2e-3         # ... of the fresh head (pooler and classifier), which starts from nothing
    warmup: float = 0.1           # share of the steps with a rising learning rate
    labels: float = 1.0           # added to the teacher score of judged-relevant candidates (+7 points)
    seed: int = 0
    freeze_embeddings: bool = True   # the word embeddings stay as they are: faster, no worse

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise CascadeError(f"unknown loss {self.loss!r}: use one of {', '.join(LOSSES)}")
        if not 1 <= self.serve_length <= 512:
            raise CascadeError(f"serve_length must be 1-512 (MiniLM's positions), not {self.serve_length}")
        for name in ("layers", "max_length", "per_query", "top", "batch_queries", "pairs"):
            if getattr(self, name) < (2 if name == "per_query" else 1):
                raise CascadeError(f"{name} must be at least {2 if name == 'per_query' else 1}, "
                                   f"not {getattr(self, name)}")
        if not (self.temperature > 0 and self.lr > 0 and self.head_lr > 0 and 0 <= self.warmup < 1
                and self.labels >= 0):
            raise CascadeError("temperature, lr and head_lr must be > 0, warmup in [0, 1), labels >= 0")

    @property
    def pairs_per_step(self) -> int:
        return self.per_query * self.batch_queries

    @property
    def steps(self) -> int:
        return max(1, math.ceil(self.pairs / self.pairs_per_step))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DistillSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def sample_list(ts: TrainingSet, qi: int, settings: DistillSettings, rng: np.random.Generator) -> np.ndarray:
    """Indices of the candidates of query ``qi`` in one training list (see the module docstring)."""
    teacher, n = ts.teacher[qi], len(ts.docs[qi])
    k = min(settings.per_query, n)
    ranked = np.argsort(-teacher, kind="stable")
    chosen: list[int] = []
    if settings.labels > 0:
        rel = np.flatnonzero(ts.grades[qi] > 0)
        chosen += [int(i) for i in rng.permutation(rel)[: max(1, k // 4)]]
    top = [int(i) for i in ranked[: settings.top] if i not in chosen]
    rest = [int(i) for i in ranked[settings.top:] if i not in chosen]
    n_top = min(len(top), max(0, (k + 1) // 2 - len(chosen)))
    chosen += [top[i] for i in rng.choice(len(top), n_top, replace=False)] if n_top else []
    pool = [i for i in top + rest if i not in chosen]
    rest_left = [i for i in rest if i not in chosen]
    need = k - len(chosen)
    # The rest of the list from below the top; from the top's leftovers if the rest runs out.
    src = rest_left if len(rest_left) >= need else pool
    chosen += [src[i] for i in rng.choice(len(src), need, replace=False)] if need else []
    return np.array(chosen, dtype=np.int64)


def step_lists(ts: TrainingSet, settings: DistillSettings, step: int) -> list[tuple[int, np.ndarray]]:
    """The ``(query index, candidate indices)`` lists of one step: a function of seed and step only."""
    n, b = len(ts), settings.batch_queries
    out = []
    for j in range(step * b, step * b + b):
        epoch, pos = divmod(j, n)
        qi = int(np.random.default_rng([settings.seed, epoch]).permutation(n)[pos])
        out.append((qi, sample_list(ts, qi, settings, np.random.default_rng([settings.seed, step, j]))))
    return out


def list_loss(scores, target, mask, settings: DistillSettings):
    """The loss of a batch of lists: ``scores``, ``target`` ``[B, K]`` tensors, ``mask`` valid entries."""
    import torch

    t = target / settings.temperature
    if settings.loss == "listwise":
        neg = torch.finfo(scores.dtype).min
        p = torch.softmax(t.masked_fill(~mask, neg), dim=1)
        logq = torch.log_softmax(scores.masked_fill(~mask, neg), dim=1)
        return -(p * logq.masked_fill(~mask, 0.0)).sum(dim=1).mean()
    pair = mask[:, :, None] & mask[:, None, :]
    pair = pair & torch.triu(torch.ones_like(pair), diagonal=1)
    diff = (scores[:, :, None] - scores[:, None, :]) - (t[:, :, None] - t[:, None, :])
    return (diff[pair] ** 2).mean()


@dataclass
class TrainResult:
    steps: int
    pairs: int
    train_s: float            # wall time spent training, over every resumed part
    cpu_s: float              # process CPU time (user + system) spent training, likewise
    resumed_from: int         # the step a checkpoint resumed from (0: a fresh start)
    loss_start: float         # mean loss of the first 20 steps
    loss_end: float           # ... of the last 20
    threads: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def run_key(ts: TrainingSet, settings: DistillSettings, teacher: dict) -> str:
    """What a checkpoint must match to be resumed: settings, teacher and training lists."""
    h = hashlib.sha256(json.dumps([settings.to_dict(), teacher, ts.signal, ts.depth], sort_keys=True).encode())
    for qid, docs, t in zip(ts.query_ids, ts.docs, ts.teacher):
        h.update(f"{qid}\x1f{','.join(docs)}\x1f".encode())
        h.update(np.round(t, 5).tobytes())
    return h.hexdigest()[:16]


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Trainer:
    """Holds the student, its optimiser and the data plan; trains step by step."""

    def __init__(self, ts: TrainingSet, corpus, settings: DistillSettings, device: str = "cpu"):
        import torch

        self.ts, self.settings, self.device = ts, settings, device
        self.model, self.tokenizer = init_student(settings.base, settings.layers, settings.seed)
        self.model.to(device)   # float32 wherever it trains (the saved student is the same on every device)
        if settings.freeze_embeddings:
            self.model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
        head = [p for n, p in self.model.named_parameters() if n.startswith(HEAD)]
        body = [p for n, p in self.model.named_parameters() if p.requires_grad and not n.startswith(HEAD)]
        self.optim = torch.optim.AdamW([{"params": body, "lr": settings.lr},
                                        {"params": head, "lr": settings.head_lr}], weight_decay=0.01)
        total, warm = settings.steps, max(1, int(settings.warmup * settings.steps))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.optim, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
        # The documents of the training lists, cut well past what the tokenizer keeps (speed).
        chars = settings.max_length * 12
        self.texts = {d: corpus.text_of(d)[:chars] for docs in ts.docs for d in docs}

    def batch(self, step: int):
        import torch

        lists = step_lists(self.ts, self.settings, step)
        k = max(len(c) for _, c in lists)
        queries, docs = [], []
        target = torch.zeros(len(lists), k)
        mask = torch.zeros(len(lists), k, dtype=torch.bool)
        for b, (qi, cands) in enumerate(lists):
            t = self.ts.teacher[qi][cands] + self.settings.labels * (self.ts.grades[qi][cands] > 0)
            target[b, : len(cands)] = torch.from_numpy(t.astype(np.float32))
            mask[b, : len(cands)] = True
            queries += [self.ts.query_texts[qi]] * len(cands)
            docs += [self.texts[self.ts.docs[qi][c]] for c in cands]
        enc = self.tokenizer(queries, docs, truncation="longest_first", max_length=self.settings.max_length,
                             padding=True, return_tensors="pt")
        return enc, target, mask

    def step(self, step: int) -> float:
        import torch

        enc, target, mask = self.batch(step)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        target, mask = target.to(self.device), mask.to(self.device)
        self.model.train()
        logits = self.model(**enc).logits.view(-1)
        scores = torch.zeros(mask.shape, device=self.device)
        scores = scores.masked_scatter(mask, logits)
        loss = list_loss(scores, target, mask, self.settings)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
        self.optim.step()
        self.sched.step()
        self.optim.zero_grad(set_to_none=True)
        return float(loss.detach())

    def state(self) -> dict:
        import torch

        return {"model": self.model.state_dict(), "optim": self.optim.state_dict(),
                "sched": self.sched.state_dict(), "torch_rng": torch.get_rng_state()}

    def load_state(self, state: dict) -> None:
        import torch

        self.model.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optim"])
        self.sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["torch_rng"])


def checkpoint_path(out: Path) -> Path:
    return Path(out) / CHECKPOINT / "state.pt"


def _save_checkpoint(path: Path, payload: dict) -> None:
    """Write atomically: a kill during the write leaves the previous checkpoint intact."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def train_student(ts: TrainingSet, corpus, settings: DistillSettings, out: Path, key: str,
                  progress: ProgressCallback | None = None, checkpoint_every_s: float = 120.0,
                  device: str = "cpu") -> TrainResult:
    """Train on ``device`` (resolved), checkpointing into ``out/.checkpoint`` every
    ``checkpoint_every_s`` seconds, and write the student to ``out``. A checkpoint there with the
    same ``key`` is resumed (on whichever device: it is read onto this one)."""
    import torch

    out = Path(out)
    trainer = Trainer(ts, corpus, settings, device)
    ckpt = checkpoint_path(out)
    start, prior_s, prior_cpu, losses = 0, 0.0, 0.0, []
    if ckpt.exists():
        try:
            saved = torch.load(ckpt, weights_only=False, map_location=device)
        except Exception as exc:  # noqa: BLE001 - a torn or foreign file: say so, in one line
            raise CascadeError(f"cannot read the checkpoint {ckpt}: {type(exc).__name__}; delete it to start "
                               "again") from None
        if saved.get("key") != key:
            raise CascadeError(f"{out} holds a checkpoint of another training run (other settings, teacher or "
                               "queries): delete its .checkpoint folder or choose another output folder")
        trainer.load_state(saved["state"])
        start, prior_s, prior_cpu, losses = saved["step"], saved["train_s"], saved["cpu_s"], saved["losses"]
    total = settings.steps
    per = settings.pairs_per_step
    t0, cpu0, last_ckpt = time.perf_counter(), _cpu_s(), time.perf_counter()

    saved_at = start if start else None   # the step of the last checkpoint on disk (said with the progress)

    def emit(done: int) -> None:
        if progress is not None:
            # Said as it happens: a person deciding whether to stop a long run needs to know what
            # a kill would keep (the run resumes from the last checkpoint).
            kept = "" if saved_at is None else (f"; checkpoint at {saved_at * per:,} pairs in {ckpt.parent} "
                                                "(a stopped run resumes there)")
            progress(ProgressEvent("training the student" + kept, done * per, total * per,
                                   prior_s + time.perf_counter() - t0, "pairs"))

    def snapshot(step: int) -> dict:
        return {"key": key, "step": step, "state": trainer.state(), "losses": losses,
                "train_s": prior_s + time.perf_counter() - t0, "cpu_s": prior_cpu + _cpu_s() - cpu0}

    emit(start)
    for step in range(start, total):
        losses.append(trainer.step(step))
        try:
            emit(step + 1)
        except ScoringCancelled:
            # A cancel (the progress callback's flag) keeps every step done: checkpoint here.
            _save_checkpoint(ckpt, snapshot(step + 1))
            raise TrainingCancelled((step + 1) * per, total * per, str(ckpt.parent)) from None
        if time.perf_counter() - last_ckpt >= checkpoint_every_s and step + 1 < total:
            _save_checkpoint(ckpt, snapshot(step + 1))
            last_ckpt, saved_at = time.perf_counter(), step + 1
            emit(step + 1)
    final = snapshot(total)
    save_student(trainer.model, trainer.tokenizer, out, settings.serve_length)
    # The whole folder: a kill during a checkpoint's write leaves its half-written .tmp beside it.
    shutil.rmtree(ckpt.parent, ignore_errors=True)
    tail = min(20, len(losses))
    curve = [round(float(np.mean(c)), 4) for c in np.array_split(np.asarray(losses), min(10, len(losses))) if len(c)]
    return TrainResult(total, total * per, final["train_s"], final["cpu_s"], start,
                       float(np.mean(losses[:tail])) if tail else float("nan"),
                       float(np.mean(losses[-tail:])) if tail else float("nan"), torch.get_num_threads(),
                       {"loss_by_tenth": curve})


def estimate_seconds(ts: TrainingSet, corpus, settings: DistillSettings, steps: int = 2,
                     device: str = "cpu") -> float:
    """Seconds the whole training should take here on ``device``, from ``steps`` timed steps (after
    one warm-up) of a throwaway student. Measured under whatever else the machine is doing."""
    trainer = Trainer(ts, corpus, settings, device)
    trainer.step(0)
    t0 = time.perf_counter()
    for s in range(1, steps + 1):
        trainer.step(s % settings.steps)
    return (time.perf_counter() - t0) / steps * settings.steps
