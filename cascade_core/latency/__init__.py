"""Latency: what each step of a cascade costs, predicted from measured calls, and where it will run.

* :mod:`.model` -- a cost model per scorer, fitted on its timed calls (``fixed + per_pair * n``),
  and the predicted latency of a spec per step against a budget, with the predicted tail;
* :mod:`.profiles` -- cost profiles: a step priced where it will *run* (user-set, or measured and
  scaled), not where it was timed;
* :mod:`.cpu_probe` -- a short fixed workload timed beside every recording, so figures taken
  while the CPU was busy are recognised.

Pure arithmetic over stored timings: imports only the ground floor (``errors``) and NumPy/SciPy.
"""
