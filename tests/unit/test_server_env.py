"""`make server-env`: the .env docker-compose.yml needs, written once and never rotated."""

import base64
import stat

from greenops.server_env import SECRETS, read_env, write_server_env


def test_writes_the_user_and_the_shared_secrets_once_and_keeps_the_rest(tmp_path):
    env_path = tmp_path / ".env"
    # the user's own settings, the last line without its newline; the data folder elsewhere
    env_path.write_text(f"# the server's settings\nGREENOPS_WAREHOUSE_KIND=bigquery\nGREENOPS_DATA_DIR={tmp_path / 'srv' / 'data'}")
    added = write_server_env(tmp_path, 1234)
    assert added == ["AIRFLOW_UID", *SECRETS]
    env = read_env(env_path)
    assert env["GREENOPS_WAREHOUSE_KIND"] == "bigquery" and env["AIRFLOW_UID"] == "1234"
    assert env_path.read_text().startswith("# the server's settings\n")
    assert len({env[name] for name in SECRETS}) == len(SECRETS)  # three different secrets
    assert len(base64.urlsafe_b64decode(env["AIRFLOW__CORE__FERNET_KEY"])) == 32  # what Fernet accepts
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    assert (tmp_path / "srv" / "data" / "landing").is_dir() and (tmp_path / "srv" / "data" / "published").is_dir()
    # a second run adds nothing and changes nothing: a new Fernet key would lock the stored connections
    before = env_path.read_text()
    assert write_server_env(tmp_path, 999) == []
    assert env_path.read_text() == before


def test_a_new_project_gets_the_default_data_folder(tmp_path):
    write_server_env(tmp_path, 1000)
    assert (tmp_path / "data" / "landing").is_dir() and read_env(tmp_path / ".env")["AIRFLOW_UID"] == "1000"
