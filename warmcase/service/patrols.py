"""Patrol, cold-wave and hotline commands."""

from __future__ import annotations

from warmcase.service.base import ServiceBase


class PatrolCommands(ServiceBase):
    """Patrol, cold-wave and hotline commands; each returns the reference it acted on."""
