"""What the portal sends a timesheet tool for an offering: seed 002 sections 4, 5 and 7.

Pure functions of the offering, its assignments and the organization settings, so provisioning, every
push and the org-wide re-sync agree, and the configuration matrix can be tested without HTTP.

| Assignment Level Budgeting | Hours Source | Sent                                                           |
| off                        | sold         | project: name, client, dates, billable, fixed fee, sold hours  |
| off                        | current      | the same with current planned hours                            |
| on                         | sold         | project as above (sold hours) + a rate per project user        |
| on                         | current      | project as above (planned hours) + a rate per project user     |

Hours always go to the project (tools have no per-person hour budget). Rates: Time & Materials sends
each person's bill rate from the plan (the assignment); Fixed Bid and Retainer send the effective rate
(portal.projects.rates.fixed_fee_rate: the fee ÷ the Hours Source's hours), the same for everyone (the fee
buys those hours whoever works them); Internal and Time Off send none; a zero or missing rate is not sent.
With budgeting off, rates are neither sent nor changed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from portal.integrations.connectors import ProjectSpec
from portal.org.models import OrgSettings
from portal.projects.models import Assignment, BillingModel, Offering
from portal.projects.rates import FEE_MODELS, fixed_fee_rate, source_hours, to_cents


def reference(offering: Offering) -> str:
    """Our id stored on the tool's project: recognises a project whose creation answer was lost."""
    return f"portal-offering-{offering.id}"


def budget_hours(offering: Offering, settings: OrgSettings) -> int | None:
    """The project's estimated hours by the Hours Source setting; whole hours, as the tool takes them."""
    hours = source_hours(offering, settings.timesheet_hours_source)
    return int(hours.to_integral_value(rounding=ROUND_HALF_UP)) if hours else None


def is_active(offering: Offering) -> bool:
    """Archived offerings and projects in a closed stage become inactive (no new time) in the tool."""
    return not offering.archived and not offering.project.stage.is_closed


def project_spec(offering: Offering, settings: OrgSettings, client_id: str | None) -> ProjectSpec:
    return ProjectSpec(
        name=offering.name,
        client_id=client_id,
        active=is_active(offering),
        billable=offering.is_billable,
        start_date=offering.start_date,
        end_date=offering.end_date,
        estimated_hours=budget_hours(offering, settings),
        fixed_fee=offering.fixed_fee if offering.billing_model in FEE_MODELS and offering.fixed_fee else None,
        external_reference=reference(offering),
    )


def person_rate(assignment: Assignment, settings: OrgSettings) -> Decimal | None:
    """The rate a project user carries when Assignment Level Budgeting is on (None: send no rate)."""
    offering = assignment.offering
    if offering.billing_model == BillingModel.TIME_AND_MATERIALS:
        rate = assignment.bill_rate
    else:
        rate = fixed_fee_rate(offering, settings.timesheet_hours_source)
    return to_cents(Decimal(rate)) if rate else None


def status_dot(offering: Offering) -> tuple[str, str]:
    """Seed 000: green when the project is in an In Progress stage and the offering is Sold; else orange."""
    project = offering.project
    reasons = []
    if not project.stage.is_in_progress:
        reasons.append(f"the project is in {project.stage.name}, not an In Progress stage")
    if not offering.is_sold:
        reasons.append("the offering is Pre-sale, not Sold")
    if not reasons:
        return "green", "The project is In Progress and the offering is Sold."
    return "orange", "Orange: " + " and ".join(reasons) + "."
