"""The tool's RSA key: made once in the instance folder, published as a JWKS.

The platform checks what the tool signs (the AGS token request, deep-linking answers) against
the JWKS at /lti/jwks.json. The private key never leaves its file (mode 0600).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwcrypto import jwk

_lock = threading.Lock()


@dataclass(frozen=True)
class ToolKey:
    """The private key (PEM), its key id (the RFC 7638 thumbprint) and its public half (JSON)."""

    private_pem: str
    kid: str
    public_json: str

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK for the JWKS, with `kid`, `alg` and `use`."""
        public: dict[str, Any] = json.loads(self.public_json)
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return public


@functools.lru_cache(maxsize=8)
def _from_pem(pem: str) -> ToolKey:
    """The key read from its PEM, once per process and key text.

    Loading an RSA private key checks it (about 0.1 s of CPU), and every launch, JWKS request
    and grade post asks for the key: the file is read each time, its text parsed only once.
    """
    key = jwk.JWK.from_pem(pem.encode("ascii"))
    return ToolKey(private_pem=pem, kid=key.thumbprint(), public_json=key.export_public())


def tool_key(path: Path) -> ToolKey:
    """The key in `path`, made (2048-bit RSA) and written with mode 0600 if there is none."""
    with _lock:
        if path.is_file():
            return _from_pem(path.read_text("ascii"))
        key = jwk.JWK.generate(kty="RSA", size=2048)
        pem = key.export_to_pem(private_key=True, password=None).decode("ascii")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(pem)
        os.replace(temporary, path)
        return _from_pem(pem)
