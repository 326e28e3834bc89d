"""What the layout (templates/base.html) shows around a full page: the main navigation.

`portal.htmx.render` asks for it when it renders a whole page, and hands it to the template as `nav`: a
fragment, an error fragment or an email never renders the layout, so it never pays for it, and no
template global reads the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from portal.auth import policy
from portal.timesheets import standins


@dataclass(frozen=True)
class Nav:
    approvals: bool  # the Approvals page: approving roles, and whoever stands in for an approver today


def nav(session: Session, user: Any) -> Nav:
    """The navigation for `user`; asks the database (one query) only for an internal user without an
    approving role, whether they stand in for an approver today (issue 16)."""
    return Nav(approvals=policy.approves_in_own_right(user) or bool(standins.principals(session, user)))
