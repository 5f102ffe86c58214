"""What a simulated cascade means: evaluation, flow, lift, explanations, comparisons, saved runs.

* :mod:`.experiment` -- :class:`~.experiment.Experiment`: one dataset, one cascade, one data
  folder; scores what is missing, simulates, evaluates, prices. The entry point for the CLI,
  the dashboard and notebooks;
* :mod:`.evaluation` -- every step's recall funnel and metrics against the judgments;
* :mod:`.flow` -- candidates and judged-relevant documents through the steps;
* :mod:`.lift` -- the cascade against its own first pass, each stage against its input (the
  :class:`~.lift.MetricChange` every page and the CLI word alike);
* :mod:`.explain` -- why a relevant document was dropped, and the cut-off that keeps it;
* :mod:`.compare` / :mod:`.compare_many` -- the cascade against single passes and without each
  stage; saved experiments side by side with paired tests;
* :mod:`.saved` -- experiments saved under a name in the data folder;
* :mod:`.report` -- one evaluated cascade as plain data (``cascade eval --json``).

Imports everything below it (``cascade``, ``scoring``, ``metrics``, ``judgments``, ``latency``,
``store``); ``tuning``, ``doctor``, ``distill`` and ``export`` build on it. It computes; it never draws.
"""
