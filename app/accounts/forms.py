"""Account forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

MIN_PASSWORD = 10


def add_error(field: Field, message: str) -> None:
    """Show `message` under `field`, after the checks the form made itself."""
    field.errors = [*field.errors, message]


def new_password(label: Any) -> PasswordField:
    """A password being chosen: the length rule lives here, once."""
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD, max=200, message=_l("Use at least 10 characters.")),
        ],
    )


def repeated_password(label: Any) -> PasswordField:
    """The same password typed again, to catch a typo."""
    return PasswordField(
        label,
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class RegisterForm(FlaskForm):
    """A new learner account."""

    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = new_password(_l("Password"))
    confirm = repeated_password(_l("Repeat the password"))


class LoginForm(FlaskForm):
    """Signing in."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Remember me on this device"))


class PasswordForm(FlaskForm):
    """Changing one's password."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = new_password(_l("New password"))
    confirm = repeated_password(_l("Repeat the new password"))


class DeleteForm(FlaskForm):
    """Deleting one's account: the password confirms it."""

    password = PasswordField(_l("Password"), validators=[DataRequired()])


class EmptyForm(FlaskForm):
    """A form with only its CSRF token (log out, preferences)."""


class ForgotForm(FlaskForm):
    """Ask for a password reset link by e-mail."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetForm(FlaskForm):
    """Choose a new password from a reset link."""

    password = new_password(_l("New password"))
    confirm = repeated_password(_l("Repeat the new password"))
