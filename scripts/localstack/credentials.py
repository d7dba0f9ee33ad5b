"""Passwords the stack generates once and keeps in its home (mode 600) across restarts."""

from __future__ import annotations

import json
import os
import secrets

from .config import CREDENTIALS, SECRET_KEYS, read_credentials


def ensure_credentials() -> dict[str, str]:
    """POSTGRES_ADMIN_PASSWORD (the cdc_admin superuser initdb creates) and POSTGRES_CDC_PASSWORD (for the
    CDC role the product provisions; the Connect worker gets it in its environment). Missing ones are
    generated; existing ones are never changed, since the Postgres cluster was initialised with them."""
    creds = read_credentials()
    missing = [k for k in SECRET_KEYS if not creds.get(k)]
    if not missing:
        return creds
    creds.update({k: secrets.token_urlsafe(24) for k in missing})
    CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
    tmp = CREDENTIALS.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "w") as f:
        json.dump(creds, f, indent=2)
    os.replace(tmp, CREDENTIALS)
    return creds
