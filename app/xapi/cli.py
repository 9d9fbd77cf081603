"""`flask xapi clients create|list|revoke`: credentials for the statements API."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.web import catalogue, site_base_url
from app.xapi import outbox, services

xapi_cli = AppGroup("xapi", help="The xAPI statements API and forwarding to an LRS.")
clients_cli = AppGroup("clients", help="Credentials of the clients of /xapi/.")
xapi_cli.add_command(clients_cli)


@clients_cli.command("create")
@click.argument("name")
@click.option("--write", is_flag=True, help="Also allow storing statements (PUT/POST).")
def create(name: str, write: bool) -> None:
    """Issue credentials; the secret is printed once and only its hash is kept."""
    try:
        client, secret = services.issue_client(name, can_write=write, created_by="cli")
    except services.XapiError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    access = "read and write" if write else "read-only"
    click.echo(f"Created {access} xAPI client {client.name!r}.", err=True)
    click.echo("Give the client these HTTP Basic credentials (the secret is not shown again):")
    click.echo(f"key: {client.key}")
    click.echo(f"secret: {secret}")


@clients_cli.command("list")
def list_() -> None:
    """Every client: key, access, state, name."""
    for client in services.list_clients():
        state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
        access = "read-write" if client.can_write else "read-only"
        click.echo(f"{client.key}\t{access}\t{state}\t{client.name}")


@clients_cli.command("revoke")
@click.argument("key")
def revoke(key: str) -> None:
    """Revoke a client's credentials; its next request is refused."""
    client = services.revoke_client(key)
    if client is None:
        raise click.ClickException(f"no xAPI client with key {key!r}")
    db.session.commit()
    click.echo(f"Revoked {client.key} ({client.name}).")


@xapi_cli.command("backlog")
def backlog_command() -> None:
    """How many statements wait to be forwarded to the external LRS."""
    count, oldest, error = outbox.backlog()
    since = f", oldest from {oldest:%Y-%m-%d %H:%M} UTC" if oldest else ""
    click.echo(f"{count} statement(s) waiting{since}.")
    if error:
        click.echo(f"Last error: {error}")


@xapi_cli.command("forward")
def forward_command() -> None:
    """Send the due statements now, in this process (the task queue does this by itself)."""
    if not outbox.forwarding_enabled(current_app.config):
        raise click.ClickException("ACADEMY_XAPI_ENDPOINT is not set: nothing is forwarded")
    sent = failed = 0
    while True:
        result = outbox.forward_due(site_base_url(), catalogue().courses)
        sent, failed = sent + result.sent, failed + result.failed
        if result.failed or not result.sent:
            break
    click.echo(f"Sent {sent} statement(s).")
    if failed:
        raise click.ClickException(f"{failed} statement(s) not accepted: {result.error}")
