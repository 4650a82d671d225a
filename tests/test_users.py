"""People who sign in with a password: argon2id hashes, the lock-out after repeated wrong
passwords, disabled accounts, every attempt in the audit trail; `station user ...`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from rules.login import LOCKOUT, MAX_FAILURES, Attempts, after_failure, locked, password_problem
from station.cli import app as station_cli
from storage.catalogue.db import session_scope, upgrade
from storage.catalogue.models import AuditEntry, User
from storage.catalogue.users import UserError, create_user, disable, set_password, sign_in

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
GOOD = "Evidence-2026"


def test_five_wrong_passwords_lock_the_account_for_a_while() -> None:
    attempts = Attempts(0, None)
    for _ in range(MAX_FAILURES - 1):
        attempts = after_failure(attempts, NOW)
        assert not locked(attempts, NOW)
    attempts = after_failure(attempts, NOW)
    assert locked(attempts, NOW) and locked(attempts, NOW + LOCKOUT - timedelta(seconds=1))
    assert not locked(attempts, NOW + LOCKOUT)


def test_a_password_must_be_long_and_mixed_and_not_the_name() -> None:
    assert password_problem("Short1!", "li") is not None
    assert password_problem("alllowercaseletters", "li") is not None
    assert password_problem("Wangwei-2026", "wangwei") is not None
    assert password_problem(GOOD, "li") is None


@pytest.fixture
def db(database_url: str) -> str:
    upgrade(database_url)
    return database_url


def _entries(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                .order_by(AuditEntry.seq)))  # fmt: skip


def test_a_user_signs_in_only_with_the_right_password_and_is_locked_out_after_five_wrong(
    db: str,
) -> None:
    with session_scope(db) as session:
        user = create_user(session, username="li", password=GOOD, role="reviewer", unit_id="U1")
        assert user.password_hash.startswith("$argon2id$") and GOOD not in user.password_hash
        assert sign_in(session, "li", GOOD, client="10.0.0.5", now=NOW) is not None
        for _ in range(MAX_FAILURES):
            assert sign_in(session, "li", "wrong", client="10.0.0.5", now=NOW) is None
        assert sign_in(session, "li", GOOD, client="10.0.0.5", now=NOW) is None  # locked out
        later = NOW + LOCKOUT + timedelta(seconds=1)
        assert sign_in(session, "li", GOOD, client="10.0.0.5", now=later) is not None
        assert sign_in(session, "nobody", GOOD, client="10.0.0.6", now=later) is None
        attempts = _entries(session, "user.sign_in")
        whys = [(e.outcome, (e.detail or "")) for e in attempts]
        assert whys[0][0] == "ok" and "wrong password" in whys[1][1]
        assert "locked out" in whys[MAX_FAILURES + 1][1]
        assert attempts[-1].target == "nobody" and attempts[-1].actor == "anonymous"
        assert all(GOOD not in (e.detail or "") for e in attempts)


def test_a_disabled_user_cannot_sign_in_and_a_new_password_lifts_a_lock_out(db: str) -> None:
    with session_scope(db) as session:
        create_user(session, username="wang", password=GOOD, role="supervisor", unit_id="U1")
        for _ in range(MAX_FAILURES):
            sign_in(session, "wang", "wrong", client=None, now=NOW)
        set_password(session, "wang", "Another-Pass-1")
        assert sign_in(session, "wang", "Another-Pass-1", client=None, now=NOW) is not None
        disable(session, "wang")
        assert sign_in(session, "wang", "Another-Pass-1", client=None, now=NOW) is None
        assert [e.action for e in _entries(session, "user.disable")] == ["user.disable"]


def test_users_are_refused_what_people_cannot_be(db: str) -> None:
    with session_scope(db) as session:
        create_user(session, username="zhao", password=GOOD, role="it_admin")
        with pytest.raises(UserError, match="已存在"):
            create_user(session, username="zhao", password=GOOD, role="it_admin")
    with session_scope(db) as session:
        with pytest.raises(UserError, match="不能用于人员账号"):
            create_user(session, username="dock", password=GOOD, role="station")
        with pytest.raises(UserError, match="officer-id"):
            create_user(session, username="zhang", password=GOOD, role="officer")
        with pytest.raises(UserError, match="至少"):
            create_user(session, username="sun", password="short", role="reviewer")
        assert session.scalars(select(User.username)).all() == ["zhao"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_station_user_commands(database_url: str) -> None:
    env = {"STATION_DATABASE_URL": database_url, "COLUMNS": "160"}
    runner = CliRunner()
    made = runner.invoke(station_cli, ["user", "create", "chen", "--role", "reviewer", "--unit",
                                       "U1", "--name", "陈警官", "--password-stdin"],
                         input=GOOD + "\n", env=env)  # fmt: skip
    assert made.exit_code == 0 and "已创建用户 chen" in made.output, made.output
    weak = runner.invoke(station_cli, ["user", "create", "qian", "--role", "reviewer",
                                       "--password-stdin"], input="weak\n", env=env)  # fmt: skip
    assert weak.exit_code == 2 and "至少" in weak.output
    listed = runner.invoke(station_cli, ["user", "list"], env=env)
    assert "chen" in listed.output and "陈警官" in listed.output and "正常" in listed.output
    changed = runner.invoke(station_cli, ["user", "passwd", "chen", "--password-stdin"],
                            input="Changed-Pass-9\n", env=env)  # fmt: skip
    assert changed.exit_code == 0
    assert runner.invoke(station_cli, ["user", "disable", "chen"], env=env).exit_code == 0
    assert "已停用" in runner.invoke(station_cli, ["user", "list"], env=env).output
    unknown = runner.invoke(station_cli, ["user", "disable", "nobody"], env=env)
    assert unknown.exit_code == 2 and "没有用户" in unknown.output
