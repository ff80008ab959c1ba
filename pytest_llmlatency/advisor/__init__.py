"""The latency advisor: observations of recorded calls (``scan``), a latency model fitted per model
(``fit``), what-if predictions for changed generation parameters (``predict``) and parameter lint
(``lint``); ``model`` re-exports their public names."""
