"""Login, logout and the admins' user pages."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from portal import htmx
from portal.auth import passwords, policy, services
from portal.auth.access import allow, public
from portal.auth.forms import ForgotPasswordForm, LoginForm, SetPasswordForm, UserForm
from portal.auth.models import User
from portal.errors import InvalidInput, NotAllowed
from portal.extensions import db
from portal.forms import submit
from portal.projects.models import Client

bp = Blueprint("auth", __name__)
MANAGE_USERS = "Only admins can manage users."


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce the user to another site."""
    return htmx.local_path(target) or url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return htmx.redirect_to(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                db.session, form.email.data, form.password.data, request.remote_addr or "-",
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"],
            )
            db.session.commit()
        except (InvalidInput, NotAllowed) as error:
            db.session.commit()  # keep the failed attempt: it is what throttling counts
            form.form_error = error.message
            status = 429 if isinstance(error, NotAllowed) else 422
            return htmx.render("auth/login.html", block="login_form", form=form, status=status)
        login_user(user, remember=form.remember.data)
        return htmx.redirect_to(_safe_next(request.args.get("next")))
    return htmx.render("auth/login.html", block="login_form", form=form, status=form.status)


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
def forgot_password():
    form = ForgotPasswordForm()
    email = submit(form, lambda: passwords.request_reset(db.session, form.email.data))
    if email:
        # The same answer whether or not the email has a login: the form must not tell who has one.
        flash(f"If {email} has a login here, a link to set a new password is on its way. "
              f"It works for {passwords.RESET_VALID.seconds // 3600} hours.", "info")
        return htmx.redirect_to(url_for(".login"))
    return htmx.render("auth/forgot_password.html", block="forgot_form", form=form, status=form.status)


@bp.route("/password/set/<token>", methods=["GET", "POST"])
@public
def set_password(token: str):
    try:
        user = passwords.user_for_token(db.session, token)
    except InvalidInput as error:
        if request.method == "POST":  # spent meanwhile: the whole page says so, not a swapped-in fragment
            return htmx.redirect_to(url_for(".set_password", token=token))
        return htmx.render("auth/set_password.html", form=None, problem=error.message, status=410)
    form = SetPasswordForm()
    if submit(form, lambda: passwords.set_password_from_link(db.session, token, form.password.data)):
        flash("Your password is set. Log in with it.", "success")
        return htmx.redirect_to(url_for(".login"))
    return htmx.render("auth/set_password.html", block="set_password_form", form=form, user=user, problem=None,
                       status=form.status)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    logout_user()
    flash("You are logged out.", "info")
    return htmx.redirect_to(url_for("auth.login"))


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user) if user else UserForm()
    if user is not None:
        del form.email  # an email is the login and the key for matching people in timesheet tools
        if request.method == "GET":
            form.permissions.data = sorted(user.permissions)
    clients = db.session.execute(select(Client.id, Client.name).order_by(Client.name)).all()
    form.client_id.choices = [("", "—")] + [(c.id, c.name) for c in clients]
    return form


@bp.route("/admin/users")
@allow(policy.can_manage_users, MANAGE_USERS)
def users():
    """A page of users by name, searchable; `after`: the next page ("Load more")."""
    search, after = request.args.get("q", ""), request.args.get("after")
    users, cursor = services.user_page(db.session, search, after)
    return htmx.render("auth/users.html", block="user_rows" if after else "user_table" if htmx.is_fragment_request()
                       else None, users=users, next_cursor=cursor, search=search)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@allow(policy.can_manage_users, MANAGE_USERS)
def new_user():
    form = _user_form()
    created = submit(form, lambda: services.create_user(
        db.session, current_user, email=form.email.data, name=form.name.data, role=form.role.data,
        password=form.password.data or "", permissions=form.permissions.data, client_id=form.client_id.data,
        notify_stage_moves=form.notify_stage_moves.data,
    ))
    if created is not None:
        invited = "" if form.password.data else " and emailed them a link to set their password"
        flash(f"Created {created.email}{invited}.", "success")
        return htmx.redirect_to(url_for(".users"))
    return htmx.render("auth/user_form.html", block="user_form", form=form, user=None, status=form.status)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@allow(policy.can_manage_users, MANAGE_USERS)
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = _user_form(user)

    def save() -> User:
        updated = services.update_user(
            db.session, current_user, user.id, name=form.name.data, role=form.role.data,
            active=form.active.data, permissions=form.permissions.data,
            notify_stage_moves=form.notify_stage_moves.data, client_id=form.client_id.data,
        )
        if form.password.data:
            services.set_password(db.session, current_user, user.id, form.password.data)
        return updated

    if submit(form, save) is not None:
        if form.password.data and user.id == current_user.id:
            login_user(user)  # a new password ends every session of the login, this one is renewed
        flash(f"Saved {user.email}.", "success")
        return htmx.redirect_to(url_for(".users"))
    return htmx.render("auth/user_form.html", block="user_form", form=form, user=user, status=form.status)


@bp.route("/admin/users/<int:user_id>/invite", methods=["POST"])
@allow(policy.can_manage_users, MANAGE_USERS)
def invite_user(user_id: int):
    user = passwords.invite(db.session, current_user, user_id)
    db.session.commit()
    flash(f"Emailed {user.email} a link to set their password. It works for "
          f"{passwords.INVITATION_VALID.days} days.", "success")
    return htmx.redirect_to(url_for(".edit_user", user_id=user_id))
