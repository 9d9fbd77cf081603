"""Admin forms for the statements API's clients (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length


class NewClientForm(FlaskForm):
    """Credentials for one more LRS client."""

    name = StringField(_l("Client name"), validators=[DataRequired(), Length(max=120)])
    can_write = BooleanField(_l("May also store statements (for a platform that forwards here)"))


class RevokeForm(FlaskForm):
    """Revoking a client: only the CSRF token."""
