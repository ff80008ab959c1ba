"""Budget markers: parsing, judging, the llm_calls view.

``markers`` (the registry of kinds, ``budgets_for``), ``budget`` (what every kind shares),
``speed`` and ``usage`` (the kinds), ``parsing`` (the arguments' grammar, ``MarkerError``),
``explanations`` (the messages' wording), ``predicted`` (judging a prediction), ``options``
(``llm_repeat``, ``llm_baseline``), ``view`` (``llm_calls``, per-test judging).
"""
