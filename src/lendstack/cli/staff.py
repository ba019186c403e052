"""`lendstack staff create|list`: staff users of the console (argon2-hashed passwords, one role each)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lendstack.cli.context import open_engine
from lendstack.cli.output import fail, print_json, print_pairs, print_table

# Mirrors lendstack.services.staff.STAFF_ROLES: that module loads only when a command runs, so that
# `lendstack --help` starts at once; tests/cli/test_cli_startup.py checks that the two agree.
STAFF_ROLES = ("admin", "risk_manager", "credit_officer", "collections_agent", "auditor", "operations")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
staff_app = typer.Typer(help="Staff users of the console: create, list.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")


def _read_password(from_stdin: bool) -> str:
    from lendstack.services import staff as svc

    if from_stdin:
        # One line: the password, so `printf '%s\n' "$PW" | lendstack staff create ...` works and
        # the password never appears in the process list or shell history.
        return sys.stdin.readline(svc.PASSWORD_LENGTH_MAX + 2).rstrip("\r\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@staff_app.command("create")
def create_cmd(
    username: Annotated[str, typer.Option(help="login name: a lowercase letter, then a-z 0-9 . _ - (3-32)")],
    role: Annotated[str, typer.Option(help=f"one of {', '.join(STAFF_ROLES)}")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    display_name: Annotated[str, typer.Option(help="the name shown in the console")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a staff user (the password is at least 12 characters)."""
    from lendstack.services import staff as svc

    password = _read_password(password_stdin)
    try:
        created = svc.create_user(open_engine(), username, password, role, display_name=display_name).to_json()
    except svc.StaffError as exc:
        fail(exc.field, exc.message, as_json=as_json, kind=exc.kind)
    if as_json:
        print_json(created)
    else:
        print_pairs([(k, str(v)) for k, v in created.items()])


@staff_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """Every staff user with role and creation time (never a password hash)."""
    from lendstack.services import staff as svc

    users = [u.to_json() for u in svc.staff_listing(open_engine())]
    if as_json:
        print_json({"items": users})
        return
    print_table("staff", ["username", "role", "display name", "created", "disabled"],
                [[u["username"], u["role"], u["display_name"], u["created_at"], "yes" if u["disabled"] else ""]
                 for u in users])
