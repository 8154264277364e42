"""API keys over their life (issue 14, point 8): `kompetensi keys list | revoke | rotate`, expiry, last use;
a running server refuses a revoked key at its next request (within one poll interval), without a restart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from features.settings import Settings, get_settings
from serving.keys import (
    KeyStore,
    create_key,
    hash_secret,
    last_used,
    last_used_path,
    list_keys,
    record_last_used,
)
from serving.main import create_app


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """One configuration for the `kompetensi` command (environment) and the app (the same values)."""
    monkeypatch.setenv("KOMPETENSI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KOMPETENSI_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("KOMPETENSI_API_KEYS_FILE", str(tmp_path / "keys.json"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _kompetensi(*args: str) -> tuple[int, str, str]:
    from kompetensi.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _new_key(*args: str) -> tuple[str, str]:
    """`keys create ARGS` → (key id, secret); the secret is the only line on stdout."""
    code, out, err = _kompetensi("keys", "create", *args)
    assert code == 0, err
    return err.split("key id ")[1].split()[0], out.strip()


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_list_shows_every_key_and_never_a_secret(settings: Settings) -> None:
    reader_id, reader = _new_key("--role", "reader", "--name", "SIMPEG")
    admin_id, admin = _new_key("--role", "admin", "--expires-in-days", "30")
    assert _kompetensi("keys", "revoke", reader_id)[0] == 0

    code, out, _ = _kompetensi("keys", "list")

    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["key", "id", "role"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[reader_id][1:3] == ["reader", "revoked"] and rows[reader_id][-1] == "SIMPEG"
    assert rows[admin_id][1:3] == ["admin", "active"]
    expires = datetime.now(UTC) + timedelta(days=30)
    assert f"{expires:%Y-%m-%d}" in " ".join(rows[admin_id])
    for secret in (reader, admin):
        assert secret not in out and hash_secret(secret) not in out


def test_a_revoked_key_is_refused_by_the_running_server_without_a_restart(settings: Settings) -> None:
    reader_id, reader = _new_key("--role", "reader")
    _, admin = _new_key("--role", "admin")
    with TestClient(create_app(settings)) as client:  # the poller on: settings.poll_seconds
        assert client.get("/v1/models", headers=_auth(reader)).status_code == 503  # accepted (no model yet)

        code, _, err = _kompetensi("keys", "revoke", reader_id)
        revoked_at = time.monotonic()
        assert code == 0 and f"revoked key {reader_id}" in err

        refused = client.get("/v1/models", headers=_auth(reader))
        assert time.monotonic() - revoked_at < settings.poll_seconds
        assert refused.status_code == 401
        assert f"API key {reader_id} was revoked" in refused.json()["detail"]
        assert client.get("/v1/audit", headers=_auth(admin)).status_code == 200  # other keys unaffected

    code, _, err = _kompetensi("keys", "revoke", reader_id)
    assert code == 0 and "already revoked" in err
    code, _, err = _kompetensi("keys", "revoke", "key_00000000")
    assert code == 1 and err.strip() == f"error: no key key_00000000 in {settings.keys_file}"


def test_rotate_gives_a_new_secret_under_the_same_id_and_refuses_the_old_one(settings: Settings) -> None:
    key_id, old = _new_key("--role", "planner", "--name", "bappeda")
    with TestClient(create_app(settings, poll_seconds=None)) as client:
        assert client.get("/v1/models", headers=_auth(old)).status_code == 503

        code, out, err = _kompetensi("keys", "rotate", key_id)
        new = out.strip()
        assert code == 0 and f"key id {key_id} (planner)" in err and new and new != old

        assert client.get("/v1/models", headers=_auth(old)).status_code == 401
        assert client.get("/v1/models", headers=_auth(new)).status_code == 503
    [record] = list_keys(settings.keys_file)
    assert (record.key_id, record.role, record.label, record.sha256) == (key_id, "planner", "bappeda",
                                                                       hash_secret(new))
    assert old not in settings.keys_file.read_text() and new not in settings.keys_file.read_text()

    assert _kompetensi("keys", "revoke", key_id)[0] == 0
    code, out, err = _kompetensi("keys", "rotate", key_id)
    assert code == 1 and out == "" and "revoked" in err and len(err.strip().splitlines()) == 1


def test_a_key_is_refused_from_its_expiry_on(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    expires = datetime(2027, 3, 1, tzinfo=UTC)
    key_id, secret = create_key("reader", keys_file, expires_at=expires)
    now = [expires.timestamp() - 1]
    store = KeyStore(keys_file, clock=lambda: now[0])

    assert store.verify(secret) is not None
    now[0] = expires.timestamp()
    assert store.verify(secret) is None
    assert store.refusal(secret) == f"API key {key_id} expired on 2027-03-01; ask an administrator to rotate it."
    assert store.refusal("not-a-key") == "Invalid API key."


def test_expiry_options_are_checked(settings: Settings) -> None:
    code, out, err = _kompetensi("keys", "create", "--role", "reader", "--expires", "2020-01-01")
    assert (code, out, err.strip()) == (1, "", "error: --expires 2020-01-01 is not in the future")
    code, _, err = _kompetensi("keys", "create", "--role", "reader", "--expires", "2099-01-01",
                               "--expires-in-days", "3")
    assert code == 1 and "not both" in err
    code, _, err = _kompetensi("keys", "create", "--role", "reader", "--expires-in-days", "0")
    assert code == 2
    assert list_keys(settings.keys_file) == []

    key_id, _ = _new_key("--role", "reader", "--expires", "2099-01-01")
    [record] = list_keys(settings.keys_file)
    assert record.expires == datetime(2099, 1, 1, tzinfo=UTC)
    assert _kompetensi("keys", "rotate", key_id, "--expires-in-days", "7")[0] == 0
    [record] = list_keys(settings.keys_file)
    assert record.expires is not None and record.expires - datetime.now(UTC) < timedelta(days=7)


def test_last_use_is_noted_in_memory_and_written_when_the_server_stops(settings: Settings) -> None:
    key_id, secret = _new_key("--role", "reader")
    keys_file = settings.keys_file
    before = keys_file.stat()
    with TestClient(create_app(settings, poll_seconds=None)) as client:
        started = datetime.now(UTC).replace(microsecond=0)
        for _ in range(20):
            client.get("/v1/models", headers=_auth(secret))
        assert not last_used_path(keys_file).exists()  # not a file write per request
        assert key_id in client.app.state.key_store.last_used()  # type: ignore[attr-defined]
    after = keys_file.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)  # the server never writes it
    assert started <= last_used(keys_file)[key_id] <= datetime.now(UTC)

    code, out, _ = _kompetensi("keys", "list")
    assert code == 0 and f"{last_used(keys_file)[key_id]:%Y-%m-%d %H:%M}" in out


def test_workers_flushing_into_one_file_keep_the_latest_use(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    record_last_used(keys_file, {"key_a": 2_000_000_000.0, "key_b": 1_000_000_000.0})
    record_last_used(keys_file, {"key_a": 1_500_000_000.0, "key_c": 1_700_000_000.0})
    times = {key_id: moment.timestamp() for key_id, moment in last_used(keys_file).items()}
    assert times == {"key_a": 2_000_000_000.0, "key_b": 1_000_000_000.0, "key_c": 1_700_000_000.0}
    assert json.loads(last_used_path(keys_file).read_text())["version"] == 1
