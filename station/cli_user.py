"""`station user create|passwd|disable|list`: the people who sign in to the pages."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

user_app = typer.Typer(help="people who sign in to the pages", no_args_is_help=True)
console = Console()

_STDIN = typer.Option(
    "--password-stdin", help="read the password from standard input (for scripts)"
)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt("密码", hide_input=True)
    if typer.prompt("再次输入密码", hide_input=True) != first:
        console.print("[bold red]错误：[/bold red]两次输入的密码不一致。")
        raise typer.Exit(2)
    return str(first)


def _url() -> str:
    from api.settings import ApiSettings
    from storage.catalogue.db import upgrade

    url = ApiSettings().database_url
    upgrade(url)
    return url


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="the name to sign in with")],
    role: Annotated[str, typer.Option(help="officer, reviewer, supervisor, it_admin or admin")],
    unit: Annotated[str | None, typer.Option(help="the unit (and those below it) it sees")] = None,
    officer_id: Annotated[str | None, typer.Option(help="an officer's own number")] = None,
    name: Annotated[str | None, typer.Option(help="the person's name, as shown")] = None,
    password_stdin: Annotated[bool, _STDIN] = False,
) -> None:
    """Make a user who signs in with a password (asked for twice, or read from stdin)."""
    from storage.catalogue.db import session_scope
    from storage.catalogue.users import UserError, create_user

    password = _password(password_stdin)
    try:
        with session_scope(_url()) as session:
            create_user(session, username=username, password=password, role=role,
                        unit_id=unit, officer_id=officer_id, name=name)  # fmt: skip
    except UserError as exc:
        console.print(f"[bold red]错误：[/bold red]{escape(str(exc))}")
        raise typer.Exit(2) from exc
    console.print(f"已创建用户 {escape(username)}（{escape(role)}）。首次登录时须由本人修改密码。")


@user_app.command("passwd")
def user_passwd(
    username: Annotated[str, typer.Argument(help="the user")],
    password_stdin: Annotated[bool, _STDIN] = False,
) -> None:
    """Give a user a new password (it also lifts a lock-out and ends their sessions); they
    must set their own at next sign-in."""
    from storage.catalogue.db import session_scope
    from storage.catalogue.users import UserError, set_password

    password = _password(password_stdin)
    try:
        with session_scope(_url()) as session:
            set_password(session, username, password)
    except UserError as exc:
        console.print(f"[bold red]错误：[/bold red]{escape(str(exc))}")
        raise typer.Exit(2) from exc
    console.print(f"已为 {escape(username)} 设置新密码。下次登录时须由本人修改密码。")


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="the user")]) -> None:
    """Disable a user: they can no longer sign in."""
    from storage.catalogue.db import session_scope
    from storage.catalogue.users import UserError, disable

    try:
        with session_scope(_url()) as session:
            disable(session, username)
    except UserError as exc:
        console.print(f"[bold red]错误：[/bold red]{escape(str(exc))}")
        raise typer.Exit(2) from exc
    console.print(f"已停用用户 {escape(username)}。")


@user_app.command("list")
def user_list() -> None:
    """Every user: name, role, unit, officer, state."""
    from rich.table import Table

    from storage.catalogue.db import session_scope
    from storage.catalogue.models import utc_now
    from storage.catalogue.users import list_users

    table = Table("用户名", "姓名", "角色", "单位", "警号", "状态")
    now = utc_now()
    with session_scope(_url()) as session:
        for u in list_users(session):
            state = (
                "已停用" if u.disabled_at else "已锁定" if u.locked_until and u.locked_until > now
                else "正常"
            )  # fmt: skip
            table.add_row(escape(u.username), escape(u.name or ""), u.role,
                          escape(u.unit_id or ""), escape(u.officer_id or ""), state)  # fmt: skip
    Console(width=160).print(table)
