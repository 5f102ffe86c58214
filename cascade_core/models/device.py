"""Where a model runs: the ``device`` setting (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``).

``auto`` (the default) picks a CUDA GPU when torch sees one, else Apple's ``mps``, else the CPU:
on a machine without a GPU everything runs as before, the ONNX Runtime fast path included (it is
the CPU's). ``cuda`` or ``cuda:N`` on a machine whose torch sees no such GPU is one
:class:`~cascade_core.errors.ModelError` before any work, saying what torch sees and how to get
a CUDA build (``TORCH_SPEC``, README). On a GPU, encoders run in half precision
(:func:`half_precision`): about twice as fast, and scores that differ from float32's in the
third or fourth decimal, so the scores are stored apart (the kinds add ``fp16`` to their id).

The timings of a step on a GPU are kept apart from its CPU timings (:func:`timing_key`): a
prediction never prices a CPU run with GPU figures, nor the reverse.

>>> parse_device(" CUDA:1 "), parse_device("auto")
('cuda:1', 'auto')
>>> parse_device("gpu")
Traceback (most recent call last):
...
cascade_core.errors.SpecError: device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'
>>> timing_key("cross-encoder:abc", "cpu"), timing_key("cross-encoder:abc", "cuda:0")
('cross-encoder:abc', 'cross-encoder:abc@cuda:0')
"""

from __future__ import annotations

import importlib.util
import re

from ..errors import ModelError, SpecError

DEVICES = ("auto", "cpu", "cuda", "mps")   # and cuda:N
DEVICE_HELP = ("where models run: auto (a GPU when torch sees one, else the CPU), cpu, cuda, cuda:N (the N-th GPU) "
               "or mps (Apple)")


def parse_device(text) -> str:
    """The setting, checked and lower-cased (not resolved: that needs torch)."""
    value = str(text if text is not None else "auto").strip().lower() or "auto"
    if value in DEVICES or re.fullmatch(r"cuda:\d{1,2}", value):
        return value
    raise SpecError(f"device must be auto, cpu, cuda, cuda:N or mps, not {str(text).strip()!r}")


def _torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch  # the models extra

    return torch


def resolve_device(setting: str = "auto") -> str:
    """The device a setting means on this machine: ``cpu``, ``cuda:N`` or ``mps``; a
    :class:`ModelError` when it asks for one torch does not see here."""
    setting = parse_device(setting)
    if setting == "cpu":
        return "cpu"
    torch = _torch()
    cuda = torch is not None and torch.cuda.is_available()
    mps = torch is not None and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if setting == "auto":
        return "cuda:0" if cuda else "mps" if mps else "cpu"
    if setting == "mps":
        if not mps:
            raise ModelError("device mps: torch sees no Apple GPU (mps) here; choose the device auto or cpu")
        return "mps"
    index = int(setting.partition(":")[2] or 0)
    if not cuda:
        build = f"torch {torch.__version__}" if torch is not None else "torch is not installed"
        cuda_build = torch is not None and getattr(torch.version, "cuda", None)
        why = ("no GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)" if cuda_build
               else f"{build} is a CPU build")
        raise ModelError(f"device {setting}: torch sees no CUDA GPU here ({why}); choose the device auto or cpu, "
                         "or install a CUDA build of torch (README, 'GPUs': TORCH_SPEC)")
    count = torch.cuda.device_count()
    if index >= count:
        raise ModelError(f"device {setting}: torch sees {count} CUDA GPU{'s' if count != 1 else ''} here "
                         f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})")
    return f"cuda:{index}"


def cluster_device(setting: str) -> str:
    """Where a model scoring on a Ray cluster runs, as this process must know it (for the step's
    id and where its timings are kept) without a GPU of its own: each actor asking for a GPU is
    given one, which its torch sees as ``cuda:0``; ``auto`` and ``cpu`` ask for none: the CPU.

    >>> cluster_device("auto"), cluster_device("cuda:3")
    ('cpu', 'cuda:0')
    """
    setting = parse_device(setting)
    if setting in ("auto", "cpu"):
        return "cpu"
    if setting == "mps":
        raise ModelError("device mps: a Ray cluster's workers are given CUDA GPUs or CPUs; choose cuda, auto or cpu")
    return "cuda:0"


def device_name(device: str) -> str:
    """The device in words for reports: ``cpu``, or ``cuda:0 (NVIDIA H100 80GB HBM3)``."""
    if device.startswith("cuda"):
        torch = _torch()
        try:
            return f"{device} ({torch.cuda.get_device_name(int(device.partition(':')[2] or 0))})"
        except Exception:   # noqa: BLE001 - a name is a courtesy
            return device
    return device


def half_precision(device: str) -> bool:
    """Whether encoders run in float16 on ``device``: on CUDA GPUs (fast and exact enough for
    ranking), never on the CPU (slow there) or mps."""
    return device.startswith("cuda")


def timing_key(step_id: str, device: str) -> str:
    """Where a step's timed calls are kept: its id on the CPU, ``ID@DEVICE`` elsewhere."""
    return step_id if device == "cpu" else f"{step_id}@{device}"
