"""Latency: what each step of a cascade costs, predicted from measured calls, and where it will run.

* :mod:`.model` -- a cost model per scorer, fitted on its timed calls (``fixed + per_pair * n``),
  and the predicted latency of a spec per step against a budget, with the predicted tail;
* :mod:`.profiles` -- cost profiles: a step priced where it will *run* (user-set, or measured and
  scaled), not where it was timed;
* :mod:`.timing` -- a timed call's wall time, CPU time and wait for a core, so a figure taken
  while the CPU was busy predicts a quiet machine (its quiet-equivalent) and says it was busy.

Pure arithmetic over stored timings: imports only the ground floor (``errors``) and NumPy/SciPy.
"""
