"""``abtest user create`` / ``user list``: the first admin comes from the command line."""
from __future__ import annotations

from click.testing import CliRunner
from flask import Flask

from tests.web.ui.conftest import sign_in
from web.cli import main


def test_create_an_admin_from_stdin_then_sign_in(runner: CliRunner, app: Flask) -> None:
    created = runner.invoke(main, ["user", "create", "--username", "boss", "--role", "admin",
                                   "--password-stdin"], input="s3cret-enough\n")
    assert created.exit_code == 0, created.output
    assert "created user boss (admin)" in created.output
    client = app.test_client()
    assert sign_in(client, "boss", "s3cret-enough").status_code == 302
    assert client.get("/users").status_code == 200
    listed = runner.invoke(main, ["user", "list"])
    assert listed.exit_code == 0 and listed.output.startswith("boss\tadmin\t")


def test_the_prompt_asks_twice_and_hides_the_password(runner: CliRunner, app: Flask) -> None:
    created = runner.invoke(main, ["user", "create", "--username", "ed", "--role", "editor"],
                            input="typed-twice-1\ntyped-twice-1\n")
    assert created.exit_code == 0, created.output
    assert "typed-twice-1" not in created.output
    assert sign_in(app.test_client(), "ed", "typed-twice-1").status_code == 302


def test_bad_input_exits_1_with_the_reason(runner: CliRunner) -> None:
    short = runner.invoke(main, ["user", "create", "--username", "x", "--role", "viewer",
                                 "--password-stdin"], input="short\n")
    assert short.exit_code == 1
    assert "password: at least 8 characters" in short.output
    args = ["user", "create", "--username", "x", "--role", "viewer", "--password-stdin"]
    assert runner.invoke(main, args, input="long-enough-1\n").exit_code == 0
    again = runner.invoke(main, args, input="long-enough-1\n")
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(main, ["user", "create", "--username", "y", "--role", "root",
                                "--password-stdin"], input="long-enough-1\n").exit_code == 2
