"""Commands that plan home visits, record their delivery and follow up what they found."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from warmcase.domain import lot, visit
from warmcase.domain.campaign import KIND as CAMPAIGN
from warmcase.domain.household import KIND as HOUSEHOLD
from warmcase.domain.lot import DonationLot
from warmcase.domain.visit import GoodsLine, ProblemReport
from warmcase.service.base import ServiceBase
from warmcase.transaction import Transaction


class VisitCommands(ServiceBase):
    """Visit commands; each returns the visit's reference."""

    def plan_visit(
        self,
        ref: str,
        *,
        campaign: str,
        household: str,
        team: str,
        leader: str,
        planned_on: date,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Plan a visit of a household by a team and its leader, on a day of the campaign."""

        def decide(tx: Transaction) -> str:
            tx.emit(
                visit.KIND,
                ref,
                visit.plan_visit(
                    tx.get(visit.KIND, ref),
                    ref=ref,
                    campaign=tx.require(CAMPAIGN, campaign),
                    household=tx.require(HOUSEHOLD, household),
                    team=team,
                    leader=leader,
                    planned_on=planned_on,
                    actor=tx.actor,
                    at=tx.at,
                ),
            )
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def complete_visit(
        self,
        ref: str,
        *,
        goods: Iterable[GoodsLine | tuple[str, int]] = (),
        cash_fen: int = 0,
        cash_lot: str | None = None,
        signed_by: str,
        signer_phone: str,
        health: str | None = None,
        income: str | None = None,
        schooling: str | None = None,
        needs: Iterable[str] = (),
        problems: Iterable[ProblemReport] = (),
        override_reason: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record the delivery of a visit, signed for by a household member.

        The visit, the household's aid ledger and every lot drawn from are saved
        together in one atomic write; if any of them refuses, nothing is saved.
        """
        lines = tuple(goods)
        needs = tuple(needs)
        problems = tuple(problems)

        def decide(tx: Transaction) -> str:
            current = tx.require(visit.KIND, ref)
            drawn = [line.lot_ref for line in visit.goods_lines(current, lines)]
            if cash_lot is not None:
                drawn.append(cash_lot)
            stock: dict[str, DonationLot] = {}
            for lot_ref in drawn:
                found = tx.get(lot.KIND, lot_ref)
                if found is not None:
                    stock[lot_ref] = found
            decided = visit.deliver(
                current,
                campaign=tx.require(CAMPAIGN, current.campaign),
                household=tx.require(HOUSEHOLD, current.household),
                lots=stock,
                goods=lines,
                cash_fen=cash_fen,
                cash_lot=cash_lot,
                signed_by=signed_by,
                signer_phone=signer_phone,
                health=health,
                income=income,
                schooling=schooling,
                needs=needs,
                problems=problems,
                override_reason=override_reason,
                actor=tx.actor,
                at=tx.at,
            )
            tx.emit(visit.KIND, ref, decided.visit)
            tx.emit(HOUSEHOLD, current.household, decided.household)
            for lot_ref, events in decided.lots.items():
                tx.emit(lot.KIND, lot_ref, events)
            return ref

        return self._transact(decide, actor=actor, effective_at=effective_at)

    def assign_problem(
        self,
        ref: str,
        *,
        problem_id: str,
        department: str,
        assignee: str,
        due_on: date,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Give a problem found on the visit to a department and a person, with a due date."""
        return self._decide_on(
            visit.KIND,
            ref,
            visit.assign_problem,
            problem_id=problem_id,
            department=department,
            assignee=assignee,
            due_on=due_on,
            actor=actor,
            effective_at=effective_at,
        )

    def follow_up_problem(
        self,
        ref: str,
        *,
        problem_id: str,
        note: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record progress on an assigned problem."""
        return self._decide_on(
            visit.KIND,
            ref,
            visit.follow_up_problem,
            problem_id=problem_id,
            note=note,
            actor=actor,
            effective_at=effective_at,
        )

    def resolve_problem(
        self,
        ref: str,
        *,
        problem_id: str,
        outcome: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Resolve an assigned problem, with its outcome."""
        return self._decide_on(
            visit.KIND,
            ref,
            visit.resolve_problem,
            problem_id=problem_id,
            outcome=outcome,
            actor=actor,
            effective_at=effective_at,
        )

    def report_problem_back(
        self,
        ref: str,
        *,
        problem_id: str,
        note: str,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record that a resolved problem's outcome was reported back to the household."""
        return self._decide_on(
            visit.KIND,
            ref,
            visit.report_problem_back,
            problem_id=problem_id,
            note=note,
            actor=actor,
            effective_at=effective_at,
        )

    def record_return_visit(
        self, ref: str, *, note: str, actor: str, effective_at: datetime | None = None
    ) -> str:
        """Record a return visit to the household."""
        return self._decide_on(
            visit.KIND,
            ref,
            visit.record_return_visit,
            note=note,
            actor=actor,
            effective_at=effective_at,
        )

    def verify_visit(
        self,
        ref: str,
        *,
        method: str,
        result: str,
        note: str | None = None,
        actor: str,
        effective_at: datetime | None = None,
    ) -> str:
        """Record an inspector's callback (phone or door): confirmed or a discrepancy."""
        return self._decide_on(
            visit.KIND,
            ref,
            visit.verify_visit,
            method=method,
            result=result,
            note=note,
            actor=actor,
            effective_at=effective_at,
        )

    def cancel_visit(
        self, ref: str, *, reason: str, actor: str, effective_at: datetime | None = None
    ) -> str:
        """Cancel a planned visit, with the reason why."""
        return self._decide_on(
            visit.KIND,
            ref,
            visit.cancel_visit,
            reason=reason,
            actor=actor,
            effective_at=effective_at,
        )
