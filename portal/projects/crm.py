"""Clients and CRM deals.

The CRM can hold the same company twice ("Acme Inc" and "ACME, Inc."). Each client carries a
normalized name; clients sharing one are duplicates, shown to admins so that a timesheet tool's client
maps to exactly one of them (seed 000).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal import audit, events, paging
from portal.auth import policy
from portal.auth.models import User
from portal.errors import Conflict, InvalidInput, get_or_raise
from portal.lookups import contains
from portal.projects.models import (
    DEAL_STAGE_LABELS,
    Client,
    Deal,
    DealStage,
    Offering,
    Project,
    SaleStatus,
)

_LEGAL_SUFFIXES = {"inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company",
                   "gmbh", "plc", "sa", "bv", "ag", "pty", "llp"}


def normalize_client_name(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w]
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    if words and words[0] == "the" and len(words) > 1:
        words.pop(0)
    return " ".join(words)


def create_client(session: Session, actor: User | str | None, name: str, crm_id: str | None = None) -> Client:
    """Create a client. A similar existing name is allowed (the CRM may have both) but reported."""
    if isinstance(actor, User):
        policy.require(policy.can_manage_reference_data(actor), "You cannot create clients.")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Enter the client's name.", fields={"name": "Enter the client's name."})
    if crm_id and session.scalar(select(Client.id).where(Client.crm_id == crm_id)):
        raise Conflict(f"A client with CRM id {crm_id} already exists.", fields={"crm_id": "Already used."})
    client = Client(name=name, normalized_name=normalize_client_name(name), crm_id=crm_id or None)
    session.add(client)
    session.flush()
    audit.record(session, actor, "client.created", client, after=audit.snapshot(client, ["name", "crm_id"]),
                 summary=f"Created client {name}")
    return client


PAGE_SIZE = 50
DUPLICATE_GROUPS_SHOWN = 20


def client_page(session: Session, search: str = "", after: str | None = None,
                limit: int = PAGE_SIZE) -> tuple[list[tuple[Client, int]], str | None]:
    """One page of clients by name (keyset), each with its number of projects, and the next page's cursor."""
    query = select(Client)
    if search.strip():
        query = query.where(contains(Client.name, search.strip()) | contains(func.coalesce(Client.crm_id, ""),
                                                                             search.strip()))
    clients, cursor = paging.by_name(session, query, Client.name, Client.id, after, limit)
    counts = dict(session.execute(select(Project.client_id, func.count()).where(
        Project.client_id.in_([c.id for c in clients])).group_by(Project.client_id)).all()) if clients else {}
    return [(c, counts.get(c.id, 0)) for c in clients], cursor


def similar_clients(session: Session, client: Client) -> list[Client]:
    return list(session.scalars(
        select(Client).where(Client.normalized_name == client.normalized_name, Client.id != client.id)
        .order_by(Client.id)
    ))


def duplicate_groups(session: Session, limit: int = DUPLICATE_GROUPS_SHOWN) -> list[list[Client]]:
    """The first `limit` groups (by normalized name) of two or more clients that share a normalized name."""
    names = (select(Client.normalized_name).group_by(Client.normalized_name).having(func.count() > 1)
             .order_by(Client.normalized_name).limit(limit))
    groups: dict[str, list[Client]] = defaultdict(list)
    for client in session.scalars(select(Client).where(Client.normalized_name.in_(names)).order_by(Client.id)):
        groups[client.normalized_name].append(client)
    return list(groups.values())


def _deal_snapshot(deal: Deal) -> dict[str, Any]:
    return audit.snapshot(deal, ["name", "stage", "amount", "start_date", "end_date", "project_id"])


def create_deal(session: Session, actor: User | str | None, *, name: str, client_id: int,
                project_id: int | None = None, amount: Decimal | None = None, start_date: date | None = None,
                end_date: date | None = None, stage: str = DealStage.PROSPECTING,
                crm_id: str | None = None) -> Deal:
    if isinstance(actor, User):
        policy.require(policy.can_manage_deals(actor), "You cannot manage deals.")
    if not (name or "").strip():
        raise InvalidInput("Enter the deal's name.", fields={"name": "Enter the deal's name."})
    if session.get(Client, client_id) is None:
        raise InvalidInput("Choose the deal's client.", fields={"client_id": "Choose a client."})
    _check_deal_values(stage, amount, start_date, end_date)
    deal = Deal(name=name.strip(), client_id=client_id, project_id=project_id, amount=amount,
                start_date=start_date, end_date=end_date, stage=DealStage.PROSPECTING, crm_id=crm_id)
    session.add(deal)
    session.flush()
    audit.record(session, actor, "deal.created", deal, after=_deal_snapshot(deal), summary=f"Created deal {deal.name}")
    if project_id is not None:  # a new deal of a project changes its CRM estimate (not its name)
        events.deal_updated.send(deal, session=session, actor=actor,
                                 changes={k: [None, getattr(deal, k)] for k in ("amount", "start_date", "end_date")})
    if stage != DealStage.PROSPECTING:
        set_deal_stage(session, actor, deal.id, stage)
    return deal


def _check_deal_values(stage: str, amount: Decimal | None, start: date | None, end: date | None) -> None:
    if stage not in set(DealStage):
        raise InvalidInput("Choose a deal stage.", fields={"stage": "Choose a stage."})
    if amount is not None and amount < 0:
        raise InvalidInput("The amount cannot be negative.", fields={"amount": "Cannot be negative."})
    if start and end and end < start:
        raise InvalidInput("The deal ends before it starts.", fields={"end_date": "Must not be before the start."})


def set_deal_stage(session: Session, actor: User | str | None, deal_id: int, stage: str) -> Deal:
    """Move a deal through the CRM pipeline. Closed Won makes its project Active and its offerings Sold."""
    deal = get_or_raise(session, Deal, deal_id, "deal")
    if isinstance(actor, User):
        policy.require(policy.can_manage_deals(actor), "You cannot manage deals.")
    _check_deal_values(stage, deal.amount, deal.start_date, deal.end_date)
    if deal.stage == stage:
        return deal
    before = deal.stage
    deal.stage = stage
    audit.record(session, actor, "deal.stage_changed", deal, before={"stage": before}, after={"stage": stage},
                 summary=f"{deal.name}: {DEAL_STAGE_LABELS[DealStage(before)]} → {DEAL_STAGE_LABELS[DealStage(stage)]}")
    if stage == DealStage.CLOSED_WON and deal.project_id:
        _win(session, actor, deal)
    session.flush()
    events.deal_updated.send(deal, session=session, actor=actor, changes={"stage": [before, stage]})
    return deal


def _win(session: Session, actor: User | str | None, deal: Deal) -> None:
    project = session.get(Project, deal.project_id)
    if not project.is_active:
        project.is_active = True
        audit.record(session, actor, "project.activated", project, before={"is_active": False},
                     after={"is_active": True}, summary=f"{project.name} is Active: deal {deal.name} Closed Won")
    offerings = session.scalars(select(Offering).where(
        Offering.project_id == project.id,
        (Offering.deal_id == deal.id) | Offering.deal_id.is_(None),
        Offering.sale_status != SaleStatus.SOLD,
    ))
    for offering in offerings:
        offering.sale_status = SaleStatus.SOLD
        offering.deal_id = offering.deal_id or deal.id
        audit.record(session, actor, "offering.sold", offering, before={"sale_status": SaleStatus.PRE_SALE},
                     after={"sale_status": SaleStatus.SOLD}, summary=f"{offering.name} sold with {deal.name}")
        events.offering_updated.send(offering, session=session, actor=actor,
                                     changes={"sale_status": [SaleStatus.PRE_SALE, SaleStatus.SOLD]})


def update_deal(session: Session, actor: User | str | None, deal_id: int, *, name: str,
                amount: Decimal | None, start_date: date | None, end_date: date | None) -> Deal:
    """A change from the CRM. Whether it reaches the project is the stage's decision (deal_updated)."""
    deal = get_or_raise(session, Deal, deal_id, "deal")
    if isinstance(actor, User):
        policy.require(policy.can_manage_deals(actor), "You cannot manage deals.")
    if not (name or "").strip():
        raise InvalidInput("Enter the deal's name.", fields={"name": "Enter the deal's name."})
    _check_deal_values(deal.stage, amount, start_date, end_date)
    before = _deal_snapshot(deal)
    deal.name, deal.amount, deal.start_date, deal.end_date = name.strip(), amount, start_date, end_date
    session.flush()
    old, new = audit.changes(before, _deal_snapshot(deal))
    if new:
        audit.record(session, actor, "deal.updated", deal, before=old, after=new, summary=f"Deal {deal.name} changed")
        events.deal_updated.send(deal, session=session, actor=actor,
                                 changes={k: [old.get(k), new[k]] for k in new})
    return deal


def deal_page(session: Session, before: int | None = None, limit: int = PAGE_SIZE) -> tuple[list[Deal], int | None]:
    """One page of deals, newest first, with their clients and projects; and the id to continue before."""
    query = (select(Deal).options(selectinload(Deal.client), selectinload(Deal.project))
             .order_by(Deal.id.desc()).limit(limit + 1))
    if before is not None:
        query = query.where(Deal.id < before)
    deals = list(session.scalars(query))
    return deals[:limit], deals[limit - 1].id if len(deals) > limit else None
