"""Trainer forms (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional


class GroupForm(FlaskForm):
    """A new group: its name, course, language and an optional last day to join."""

    name = StringField(_l("Group name"), validators=[DataRequired(), Length(max=120)])
    course = SelectField(_l("Course"), validators=[DataRequired()])
    language = SelectField(_l("Language"), validators=[DataRequired()])
    closes = DateField(_l("Last day to join (optional)"), validators=[Optional()])


class CoTrainerForm(FlaskForm):
    """Share a group with another trainer."""

    email = EmailField(
        _l("Trainer's e-mail"), validators=[DataRequired(), Email(), Length(max=254)]
    )
