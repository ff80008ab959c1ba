"""Baselines (pytest-benchmark's format) and the regression gate.

``metrics`` names what is judged, ``thresholds`` parses ``--llm-compare-fail``, ``samples`` and
``tiers`` read call records, ``store`` saves and loads runs, ``compare`` runs the gate (with
``decompose`` for Groq's queue/prompt/completion split, ``stats`` for the rank test and the
noise model), ``verdicts`` holds its results and ``notes`` says what changed. ``baseline``
re-exports the names code imported from it before the split."""
