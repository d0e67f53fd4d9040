"""Donation lot commands."""

from __future__ import annotations

from warmcase.service.base import ServiceBase


class LotCommands(ServiceBase):
    """Donation lot commands; each returns the reference it acted on."""
