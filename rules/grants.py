"""Who may make an account or a token of which role and unit. Pure.

IT makes the accounts of its units; nobody hands out more than they hold: only an admin
makes admins, and a unit-bound granter makes only accounts bound to one of its units (an
account without a unit would see every unit). Station tokens are made only by granters of
every unit: a station id belongs to no unit, and a second token for another unit's station
could register its own key and sign that station's receipts.

IT may make reviewer and supervisor accounts without seeing footage itself; a password it
sets must be changed by the person at first sign-in (storage/catalogue/users.py), so IT
never goes on knowing it."""

from __future__ import annotations


def grant_problem(
    *, granter_role: str, granter_units: frozenset[str] | None, role: str, unit_id: str | None
) -> str | None:
    """Why the granter may not make an account of `role` in `unit_id` (Chinese), or None."""
    if role == "admin" and granter_role != "admin":
        return "只有系统管理员可以创建系统管理员账号"
    if role == "station" and granter_units is not None:
        return "采集工作站令牌只能由不限单位的管理员发放"
    if granter_units is not None:
        if unit_id is None:
            return "请指定所属单位：不属于任何单位的账号可以查看全部单位"
        if unit_id not in granter_units:
            return f"单位 {unit_id} 不在您管理的范围内"
    return None
