"""`flask content serve [--watch]` (the preview server) and `flask content hooks install`."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import make_server

from app.preview.hook import MARKER, HookError, git, repository_of


@click.command("serve")
@click.option("--watch", is_flag=True, help="Reload open pages when a course file is saved.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port (0: any free port).")
@with_appcontext
def serve(watch: bool, host: str, port: int) -> None:
    """Serve the course for trainers who edit the files in their own editor."""
    from app.preview.server import start_watching

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    watcher = start_watching(app) if watch else None
    server = make_server(host, port, app, threaded=True)
    root = app.config["CONTENT_DIR"]
    click.echo(f"Serving {root} on http://{host}:{server.server_port}/", err=False)
    if watch:
        click.echo("Watching the files: open pages reload when you save; errors show on them.")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if watcher is not None:
            watcher.stop()
        server.server_close()


hooks_cli = click.Group("hooks", help="Git hooks for the content folder.")


def _hook_script(content: Path) -> str:
    project = Path(current_app.root_path).parent
    command = shlex.join([sys.executable, "-m", "app.preview.hook", str(content)])
    return (
        "#!/bin/sh\n"
        f"# {MARKER} (written by `flask content hooks install`): checks the course files\n"
        "# as they will be committed; a commit with errors is refused.\n"
        "# (`git commit --no-verify` skips it once.)\n"
        f"cd {shlex.quote(str(project))} || exit 1\n"
        f"exec {command}\n"
    )


@hooks_cli.command("install")
@click.option("--force", is_flag=True, help="Replace another pre-commit hook (kept as .backup).")
@with_appcontext
def install(force: bool) -> None:
    """Install a git pre-commit hook that runs the content checker on every commit."""
    content = Path(current_app.config["CONTENT_DIR"]).resolve()
    try:
        repository_of(content)
        hooks = Path(git(content, "rev-parse", "--git-path", "hooks").decode().strip())
    except (HookError, OSError) as exc:
        raise click.ClickException(
            f"{content} is not in a git repository ({exc}); run `git init` there first."
        ) from exc
    hooks = hooks if hooks.is_absolute() else content / hooks
    hook = hooks / "pre-commit"
    if hook.exists() and MARKER not in hook.read_text(encoding="utf-8", errors="replace"):
        if not force:
            raise click.ClickException(
                f"{hook} already exists and is not ours: use --force to replace it "
                "(it is kept as pre-commit.backup)."
            )
        os.replace(hook, hook.with_name("pre-commit.backup"))
    hooks.mkdir(parents=True, exist_ok=True)
    hook.write_text(_hook_script(content), encoding="utf-8")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    click.echo(f"Installed {hook}: every commit is checked first (path:line for each error).")
