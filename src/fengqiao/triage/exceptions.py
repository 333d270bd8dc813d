"""Typed errors of triage; all are :class:`fengqiao.errors.InvalidInput`, so the API maps them once."""

from __future__ import annotations

from typing import Any

from fengqiao.errors import InvalidInput


class TriageError(InvalidInput):
    """Base of triage errors: a Chinese message, the field at fault, per-row details."""


class ListFormatError(TriageError):
    """The responsibility list cannot be used: missing columns, duplicate codes, bad cells."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None, field: str = "file") -> None:
        super().__init__(message, field, details)


class ModelFileError(TriageError):
    """A trained model file that is not ours, is broken, or does not fit the list."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "model")


class HistoryFormatError(TriageError):
    """A history/labelled JSON-lines file with a bad line."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, "history", details)
