"""factory_boy factories bound to `db.session` with flush persistence: ids exist, nothing commits."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from portal.auth.models import User, UserPermission
from portal.extensions import db
from portal.finance.models import CostCategory, FiscalPeriod
from portal.projects.crm import normalize_client_name
from portal.projects.models import (
    Assignment,
    Booking,
    Client,
    Deal,
    Offering,
    Project,
    RateType,
    Resource,
    ResourceRate,
)
from portal.stages.models import Stage
from portal.timesheets.models import TimeEntry, Timesheet

TEST_PASSWORD = "correct horse battery"
# One cheap hash for every test user: scrypt per user would cost seconds across the suite.
_PASSWORD_HASH = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")


def stage(name: str) -> Stage:
    """A stage of the default workflow by name (Opportunity, Planning, In Progress, Pre-Close, Closed)."""
    found = db.session.scalar(select(Stage).where(Stage.name == name))
    assert found is not None, f"no stage {name!r}"
    return found


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Sequence(lambda n: f"User {n}")
    role = "staff"
    password_hash = _PASSWORD_HASH

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        for permission in extracted or ():
            self.permission_rows.append(UserPermission(permission=str(permission)))
        if create and extracted:
            db.session.flush()


class ClientFactory(Base):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n}")
    normalized_name = factory.LazyAttribute(lambda o: normalize_client_name(o.name))


class CostCategoryFactory(Base):
    class Meta:
        model = CostCategory

    name = factory.Sequence(lambda n: f"Category {n}")


class ResourceFactory(Base):
    class Meta:
        model = Resource

    name = factory.Sequence(lambda n: f"Person {n}")
    email = factory.Sequence(lambda n: f"person{n}@example.test")

    @factory.post_generation
    def rates(self, create, extracted, **kwargs):
        """rates={"cost": "50", "sell": "120"} effective from 2020-01-01."""
        for rate_type, amount in (extracted or {}).items():
            self.rates.append(ResourceRate(rate_type=RateType(rate_type), amount=Decimal(str(amount)),
                                           effective_from=date(2020, 1, 1)))
        if create and extracted:
            db.session.flush()


class ProjectFactory(Base):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    client = factory.SubFactory(ClientFactory)
    stage = factory.LazyFunction(lambda: stage("In Progress"))
    engagement_type_id = factory.LazyAttribute(lambda o: o.stage.engagement_type_id)
    is_active = True
    start_date = factory.LazyFunction(lambda: date.today() - timedelta(days=30))
    end_date = factory.LazyFunction(lambda: date.today() + timedelta(days=90))


class DealFactory(Base):
    class Meta:
        model = Deal

    name = factory.Sequence(lambda n: f"Deal {n}")
    client = factory.SubFactory(ClientFactory)
    amount = Decimal("10000")


class OfferingFactory(Base):
    class Meta:
        model = Offering

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Offering {n}")
    billing_model = "time_and_materials"
    sold_hours = Decimal("100")
    planned_hours = Decimal("100")
    sale_status = "sold"


class AssignmentFactory(Base):
    class Meta:
        model = Assignment

    offering = factory.SubFactory(OfferingFactory)
    resource = factory.SubFactory(ResourceFactory)
    bill_rate = Decimal("150")
    planned_hours = Decimal("40")


class BookingFactory(Base):
    class Meta:
        model = Booking

    project = factory.SubFactory(ProjectFactory)
    resource = factory.SubFactory(ResourceFactory)
    mode = "day"
    on = factory.LazyFunction(date.today)
    hours = Decimal("8")


class FiscalPeriodFactory(Base):
    class Meta:
        model = FiscalPeriod

    name = factory.Sequence(lambda n: f"P{n:03d}")
    start_date = date(2026, 1, 1)
    end_date = date(2026, 1, 31)


class TimesheetFactory(Base):
    class Meta:
        model = Timesheet

    resource = factory.SubFactory(ResourceFactory)
    period_start = date(2026, 3, 2)
    period_end = factory.LazyAttribute(lambda o: o.period_start + timedelta(days=6))


class TimeEntryFactory(Base):
    class Meta:
        model = TimeEntry

    resource = factory.SubFactory(ResourceFactory)
    offering = factory.SubFactory(OfferingFactory)
    project = factory.LazyAttribute(lambda o: o.offering.project)
    work_date = date(2026, 3, 3)
    hours = Decimal("8")
