"""The advisor's names where they were first imported from; each lives in its own module now:

- :mod:`.scan`: :class:`Observation`, :func:`observations`, :func:`cassette_observations` and
  its cache (:func:`observation_cache`, :class:`ScanStats`);
- :mod:`.fit`: :class:`ModelFit`, :func:`fit_models`;
- :mod:`.predict`: :class:`Prediction`, :func:`predict`;
- :mod:`.lint`: :func:`lint`;
- :mod:`.params`: what the advisor knows of generation parameters (efforts, the output cap).

Everything there is pure arithmetic on observations; ``docs/advisor.md`` states the model, its
assumptions and where it is wrong.
"""

from __future__ import annotations

from .fit import ModelFit, fit_models
from .fit import _linear as _linear
from .lint import lint
from .predict import Prediction, predict
from .scan import (
    OBSERVATION_CACHE,
    Observation,
    ScanStats,
    cassette_observations,
    observation_cache,
    observations,
)
from .scan import _memo as _memo

__all__ = [
    "OBSERVATION_CACHE",
    "ModelFit",
    "Observation",
    "Prediction",
    "ScanStats",
    "cassette_observations",
    "fit_models",
    "lint",
    "observation_cache",
    "observations",
    "predict",
]
