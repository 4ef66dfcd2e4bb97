"""Exceptions raised by carerun. User mistakes raise a subclass of :class:`CarerunError`;
the CLI turns those into plain messages and a non-zero exit, never a traceback."""

from __future__ import annotations


class CarerunError(Exception):
    """Base class of every error carerun raises on purpose."""


class InputError(CarerunError):
    """A file, option or value given by the user cannot be used."""


class NetworkError(CarerunError):
    """A road network cannot be built or loaded (missing file, no internet, empty area)."""


class SolveError(CarerunError):
    """The optimiser could not run (bad parameters, nothing to plan)."""


class PlanCheckError(CarerunError):
    """A plan carerun produced breaks a hard rule: a bug, reported loudly."""
