"""The settings file of the docker-compose stack (`.env` beside docker-compose.yml): `make server-env`.

Compose reads `.env` twice: to fill `${...}` in docker-compose.yml (AIRFLOW_UID, the shared secrets,
GREENOPS_DATA_DIR) and, through `env_file`, as every container's environment (the GREENOPS_* settings).
This writes what the stack cannot start without and keeps whatever the file already holds: a secret
is drawn once and never replaced (a new Fernet key would make the stored connections unreadable).
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

#: Each container would otherwise generate its own, and they must agree (apache/airflow#49646): the
#: api-server checks the scheduler's task tokens (JWT), the UI reads other containers' logs (secret
#: key), every container decrypts the connections stored in the metadata database (Fernet key).
SECRETS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": lambda: secrets.token_urlsafe(32),
    "AIRFLOW__API__SECRET_KEY": lambda: secrets.token_urlsafe(32),
    "AIRFLOW__CORE__FERNET_KEY": lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
}


def read_env(path: Path) -> dict[str, str]:
    """NAME=value lines of a .env file (comments and blank lines skipped; no quoting rules beyond that)."""
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def write_server_env(project: Path, uid: int) -> list[str]:
    """Add to ``project``/.env what is missing of AIRFLOW_UID (``uid``: the containers run as you, so
    that dbt can write dbt_project/target and the pipeline its data folder) and the shared secrets;
    create the data folder (GREENOPS_DATA_DIR, ./data by default) with landing/ and published/, owned
    by you (Docker would create a missing one as root). Returns the names added."""
    path = project / ".env"
    have = read_env(path)
    added = {}
    if "AIRFLOW_UID" not in have:
        added["AIRFLOW_UID"] = str(uid)
    for name, draw in SECRETS.items():
        if not have.get(name):
            added[name] = draw()
    if added:
        text = path.read_text() if path.exists() else ""
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{name}={value}\n" for name, value in added.items())
        path.write_text(text)
        path.chmod(0o600)  # secrets
    data = Path(have.get("GREENOPS_DATA_DIR") or "data")
    data = data if data.is_absolute() else project / data
    for sub in ("landing", "published"):
        (data / sub).mkdir(parents=True, exist_ok=True)
    return list(added)
