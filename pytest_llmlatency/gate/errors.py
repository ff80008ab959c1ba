"""The errors of saved runs and of the gate's options."""

from __future__ import annotations

__all__ = ["BaselineError", "NothingSaved"]


class BaselineError(Exception):
    """A baseline that cannot be used; the message names the file or the option."""


class NothingSaved(BaselineError):
    """``--llm-compare`` (the latest run) with no saved run yet."""
