"""Issue 12 §5: a staff password is at least 12 characters and not a common or trivially repetitive one,
for every role (an admin too), at creation and at reset; the refusal names the field `password`."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from lendstack.services import passwords, staff
from lendstack.store.tables_staff import staff_users

WEAK = [
    "aaaaaaaaaaaa", "111111111111", "123456789012", "passwordpassword", "abcabcabcabc",  # the five
    "short-pass1", "abcdefgh1234", "qwertyuiop12", "0987654321zz", "ab12ab12ab12", "P@ssw0rd-2024!", "Password2024",
    "qwerty123456", "iloveyou1234", "correct horse battery staple", "woaini1314520", "1q2w3e4r5t6y",
]
STRONG = ["correct horse battery", "a different horse 42", "Kx9-travel#2", "admin-demo-pass", "tea at 4 in Hangzhou"]


@pytest.mark.parametrize("password", WEAK)
def test_weak_passwords_are_refused_for_an_admin_naming_the_field(engine: Engine, password: str) -> None:
    with pytest.raises(staff.StaffError) as caught:
        staff.create_user(engine, "root_admin", password, staff.ADMIN)
    assert caught.value.field == "password" and password not in caught.value.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(staff_users)).scalar_one() == 0


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "123456789012", "passwordpassword"])
def test_a_reset_follows_the_same_rule(engine: Engine, password: str) -> None:
    staff.create_user(engine, "alice", "correct horse battery", staff.CREDIT)
    with pytest.raises(staff.StaffError) as caught:
        staff.set_password(engine, "alice", password)
    assert caught.value.field == "password"
    assert staff.authenticate(engine, "alice", "correct horse battery") is not None


@pytest.mark.parametrize("password", STRONG)
def test_varied_passwords_pass(password: str) -> None:
    passwords.check_password(password, username="somebody")


@pytest.mark.parametrize(("username", "password"), [("alice", "alice-alice-12"), ("alice", "Alice2024!!!!"),
                                                    ("marguerite", "marguerite1234")])
def test_a_password_built_on_the_username_is_refused(username: str, password: str) -> None:
    with pytest.raises(passwords.PasswordRefused, match="username"):
        passwords.check_password(password, username=username)


def test_the_username_with_enough_else_is_fine() -> None:
    passwords.check_password("alice likes green tea", username="alice")


def test_the_common_list_is_package_data_and_bounded() -> None:
    words = passwords.common_passwords()
    assert {"password", "qwerty", "letmein", "woaini1314"} <= words
    assert all(w == w.strip().casefold() for w in words)


def test_demo_staff_pass_the_rule(engine: Engine) -> None:
    made = staff.ensure_demo_staff(engine)
    assert len(made) == len(staff.DEMO_STAFF)
    for username, password, _role in made:
        passwords.check_password(password, username=username)
        assert staff.authenticate(engine, username, password) is not None
