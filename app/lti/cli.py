"""`flask lti register|list|deactivate|info`: the platforms that may launch this tool."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from app.extensions import db
from app.lti import services
from app.lti.grades import current_tool_key
from app.web import site_base_url


@click.group("lti")
def lti_cli() -> None:
    """LTI 1.3: register platforms (Moodle, Canvas) and show what they need to know."""


@lti_cli.command("register")
@with_appcontext
@click.option("--name", default="", help="A name for admins (default: the issuer).")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. its URL.")
@click.option("--client-id", required=True, help="The client id the platform gave this tool.")
@click.option("--login-url", required=True, help="The platform's OIDC authentication URL.")
@click.option("--token-url", required=True, help="The platform's OAuth2 token URL (for AGS).")
@click.option("--jwks-url", required=True, help="The platform's public keyset (JWKS) URL.")
@click.option(
    "--deployment-id", "deployment_ids", multiple=True, required=True, help="Repeat for several."
)
@click.option("--audience", default="", help="The token URL's audience, if not the token URL.")
def register(
    name: str,
    issuer: str,
    client_id: str,
    login_url: str,
    token_url: str,
    jwks_url: str,
    deployment_ids: tuple[str, ...],
    audience: str,
) -> None:
    """Let a platform launch this tool (the details come from its tool registration page)."""
    try:
        platform = services.register_platform(
            name=name,
            issuer=issuer,
            client_id=client_id,
            auth_login_url=login_url,
            auth_token_url=token_url,
            key_set_url=jwks_url,
            deployment_ids=deployment_ids,
            auth_audience=audience,
        )
    except services.RegistrationError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Registered platform {platform.id}: {platform.name} ({platform.client_id}).")


@lti_cli.command("list")
@with_appcontext
def list_platforms() -> None:
    """Every registered platform, one a line."""
    for p in services.platforms():
        state = "active" if p.active else "deactivated"
        deployments = ",".join(p.deployment_ids)
        click.echo(f"{p.id}\t{state}\t{p.name}\t{p.issuer}\t{p.client_id}\t{deployments}")


@lti_cli.command("deactivate")
@with_appcontext
@click.argument("platform_id", type=int)
def deactivate(platform_id: int) -> None:
    """Refuse further launches from a platform (its learners keep their accounts)."""
    if services.deactivate_platform(platform_id) is None:
        raise click.ClickException(f"no platform {platform_id}")
    db.session.commit()
    click.echo(f"Platform {platform_id} deactivated.")


@lti_cli.command("info")
@with_appcontext
def info() -> None:
    """What to enter on the platform's side (JSON): URLs, the tool's key, the claims used."""
    base = site_base_url()
    key = current_tool_key()
    details = {
        "initiate_login_url": base + "lti/login",
        "redirect_uris": [base + "lti/launch"],
        "jwks_url": base + "lti/jwks.json",
        "target_link_uri": base + "<lang>/<course>/<module>/ (a module's page URL)",
        "public_jwk": key.public_jwk(),
        "services": [services.SCORE_SCOPE],
    }
    click.echo(json.dumps(details, indent=2))
