"""`flask users create`: accounts from the command line (the first trainer, for one)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.accounts import services
from app.accounts.forms import MIN_PASSWORD
from app.accounts.models import ROLES
from app.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default="learner", show_default=True)
@click.option("--name", "display_name", help="Display name (default: the part before @).")
@click.password_option(help="Asked for when not given.")
def create(email: str, role: str, display_name: str | None, password: str) -> None:
    """Create an account with a role, e.g. `flask users create --role trainer ana@example.org`."""
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password needs at least {MIN_PASSWORD} characters")
    try:
        user = services.create_user(email, password, display_name or email.split("@")[0], role)
    except services.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")
