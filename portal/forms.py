"""What every form view shares: validate, run one service, commit; or show the errors with a 422.

A service's InvalidInput/Conflict carries field messages; they land on the form's fields so the user
sees them next to what to fix, and the transaction is rolled back so nothing half-saved remains.

Every PortalForm holds its number and date fields to what the database and the rules can take (the input
layer, portal/inputs.py): a decimal is finite, rounded to the field's places (so 0.001 h is 0.00 h, not a
value a CHECK constraint meets later) and below the largest numeric column; a whole number fits an integer
column; a date lies within inputs.DATE_RANGE. A value outside is the field's error, before any validator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import UnboundField
from wtforms.validators import StopValidation

from portal import inputs
from portal.errors import Conflict, InvalidInput
from portal.extensions import db

T = TypeVar("T")


def options(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs (WTForms 3.3 deprecates bare tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


class _Bounded:
    """Mixin of the bounded fields: a value they refuse skips the validators (which would only add a second
    message, or fail on it: NumberRange cannot compare a signalling NaN)."""

    refused = False

    def refuse(self, message: str) -> None:
        self.data, self.refused = None, True
        raise ValueError(message)

    def pre_validate(self, form) -> None:
        if self.refused:
            raise StopValidation()
        super().pre_validate(form)


class BoundedDecimalField(_Bounded, DecimalField):
    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        value = self.data
        if not isinstance(value, Decimal):
            return
        if not value.is_finite():
            self.refuse("Enter a number, like 12.5.")
        if abs(value) > inputs.MAX_NUMBER:
            self.refuse(f"Enter a number below {inputs.MAX_NUMBER:,.0f}.")
        if isinstance(self.places, int):
            self.data = value.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)


class BoundedIntegerField(_Bounded, IntegerField):
    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, int) and abs(self.data) > inputs.MAX_INT:
            self.refuse(f"Enter a whole number below {inputs.MAX_INT:,}.")


class BoundedSelectField(_Bounded, SelectField):
    """A choice coerced to a whole number (an id) larger than any id is refused before it reaches a query."""

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, int) and abs(self.data) > inputs.MAX_INT:
            self.refuse("Not a valid choice.")


class BoundedSelectMultipleField(_Bounded, SelectMultipleField):
    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if any(isinstance(value, int) and abs(value) > inputs.MAX_INT for value in self.data or ()):
            self.refuse("Not a valid choice.")


class BoundedDateField(_Bounded, DateField):
    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        first, last = inputs.DATE_RANGE
        if isinstance(self.data, date) and not first <= self.data <= last:
            self.refuse(f"Enter a date between {first.year} and {last.year}.")


BOUNDED = {DecimalField: BoundedDecimalField, IntegerField: BoundedIntegerField, DateField: BoundedDateField,
           SelectField: BoundedSelectField, SelectMultipleField: BoundedSelectMultipleField}


class PortalMeta(FlaskForm.Meta):
    def bind_field(self, form, unbound_field, options):
        bounded = BOUNDED.get(unbound_field.field_class)
        if bounded is not None:
            unbound_field = UnboundField(bounded, *unbound_field.args, **unbound_field.kwargs)
        return super().bind_field(form, unbound_field, options)


class PortalForm(FlaskForm):
    Meta = PortalMeta

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
