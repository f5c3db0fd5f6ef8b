"""Errors of the NIR bridge; messages name the graph node and its primitive."""

from __future__ import annotations


class NIRImportError(ValueError):
    """A NIR file or graph that cannot be turned into modules (malformed, unknown
    primitive, shapes that do not fit)."""


class NIRExportError(ValueError):
    """A module or setting with no NIR equivalent."""
