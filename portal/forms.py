"""What every form view shares: validate, run one service, commit; or show the errors with a 422.

A service's InvalidInput/Conflict carries field messages; they land on the form's fields so the user
sees them next to what to fix, and the transaction is rolled back so nothing half-saved remains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import request
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from portal.errors import Conflict, InvalidInput
from portal.extensions import db

T = TypeVar("T")


def options(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs (WTForms 3.3 deprecates bare tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


class PortalForm(FlaskForm):
    #: a message for the whole form (not one field), shown above the fields
    form_error: str = ""

    def attach(self, error: InvalidInput | Conflict) -> None:
        fields = getattr(error, "fields", None) or error.details.get("fields") or {}
        placed = False
        for name, message in fields.items():
            field = getattr(self, name, None)
            if field is not None and hasattr(field, "errors"):
                field.errors = [*list(field.errors or []), message]
                placed = True
        if not placed or error.message not in fields.values():
            self.form_error = error.message

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.form_error)

    @property
    def status(self) -> int:
        """422 for a submitted form with errors, so htmx swaps it back in place and tests can tell."""
        return 422 if request.method == "POST" and self.has_errors else 200


def submit(form: PortalForm, action: Callable[[], T]) -> T | None:
    """Validate `form`, run `action`, commit. Returns the action's result, or None with errors on the form."""
    if not form.validate_on_submit():
        return None
    try:
        result = action()
        db.session.commit()
    except (InvalidInput, Conflict) as error:
        db.session.rollback()
        form.attach(error)
        return None
    return result
