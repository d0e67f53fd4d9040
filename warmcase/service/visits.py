"""Visit commands."""

from __future__ import annotations

from warmcase.service.base import ServiceBase


class VisitCommands(ServiceBase):
    """Visit commands; each returns the reference it acted on."""
