"""The warmcase application: every command and every question, over one event store."""

from __future__ import annotations

from warmcase.service.campaigns import CampaignCommands
from warmcase.service.households import HouseholdCommands
from warmcase.service.lots import LotCommands
from warmcase.service.patrols import PatrolCommands
from warmcase.service.personal_data import PersonalDataCommands
from warmcase.service.queries import Queries
from warmcase.service.visits import VisitCommands


class Warmcase(
    Queries,
    PersonalDataCommands,
    VisitCommands,
    PatrolCommands,
    LotCommands,
    HouseholdCommands,
    CampaignCommands,
):
    """The books of winter relief campaigns, kept as an append-only history.

    Open one with :func:`warmcase.open`. Every command takes ``actor=`` and an
    optional ``effective_at=`` (when it happened; backdating is allowed, the
    future is not) and returns the reference it acted on. Every question
    (:meth:`stock`, :meth:`coverage`, :meth:`duplicate_aid`, :meth:`audit_trail`,
    :meth:`query`) takes ``as_of=`` and ``effective=`` and returns an answer with
    its basis.
    """
