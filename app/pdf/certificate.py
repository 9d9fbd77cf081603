"""The certificate of completion as a PDF: a pure function of what it certifies.

Routes, completion rules and the storage of verification codes belong to the accounts and
progress areas; they call `render_certificate` with plain values.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale, format_date

from app.i18n import format_duration
from app.pdf.bounded import DEFAULT_RENDER_SECONDS, ResourcePolicy, render_pdf_bounded
from app.pdf.build import css_string
from app.pdf.qr import qr_data_url


def render_certificate(
    name: str,
    course_title: str,
    eqf: str,
    minutes: int,
    completed_on: date,
    code: str,
    verify_url: str,
    lang: str,
) -> bytes:
    """A one-page tagged PDF certifying that `name` completed `course_title` (needs an app)."""
    with force_locale(lang):
        html = render_template(
            "pdf/certificate.html",
            name=name,
            course_title=course_title,
            eqf=eqf,
            duration=format_duration(minutes),
            completed_on=format_date(completed_on, format="long"),
            code=code,
            verify_url=verify_url,
            qr=qr_data_url(verify_url),
            lang=lang,
            css_string=css_string,
        )
    static_dir = Path(current_app.static_folder or "static")
    # Only the stylesheet is fetched; the base URL is a made-up origin, never contacted.
    policy = ResourcePolicy(base_url="http://certificate.invalid/", static_dir=static_dir)
    seconds = float(current_app.config.get("PDF_RENDER_SECONDS", DEFAULT_RENDER_SECONDS))
    return render_pdf_bounded(html, policy, seconds).data
