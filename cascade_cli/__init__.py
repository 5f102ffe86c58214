"""The ``cascade`` command line: a thin layer over :mod:`cascade_core`, one module per command.

    cascade eval --dataset PATH [spec flags] [--json FILE] [--save NAME]   (evaluate.py; also demo,
                                                                          the demo cascade's eval)
    cascade index --dataset PATH --model M / cascade indexes [--drop NAME]  (index.py)
    cascade explain --dataset PATH [spec flags] [--query QID [--doc DOCID]] (explain.py)
    cascade report FILE.html --dataset PATH [spec flags]                  (report.py, needs the ui extra)
    cascade tune --dataset PATH [spec flags] [--budget-ms MS]             (tune.py)
    cascade doctor --dataset PATH [spec flags]                           (doctor.py)
    cascade forget --dataset PATH [--scorer ID]                          (forget.py)
    cascade distill --dataset PATH [teacher spec flags]                  (distill.py)
    cascade calibrate --dataset PATH [spec flags] [--queries N]           (calibrate.py)
    cascade compare NAME... [--baseline NAME] [--csv FILE]               (compare.py)
    cascade export --qdrant FILE --dataset PATH [spec flags] [--check N]  (export.py)

It imports the library, and for ``cascade report`` only the drawing package
(:mod:`cascade_draw`); never the dashboard. Everything it prints, the library computed: the
commands parse flags, call one library function, and lay out the answer.
"""

from .cli import main

__all__ = ["main"]
