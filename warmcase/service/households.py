"""Household commands."""

from __future__ import annotations

from warmcase.service.base import ServiceBase


class HouseholdCommands(ServiceBase):
    """Household commands; each returns the reference it acted on."""
