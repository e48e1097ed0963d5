"""A PostgreSQL URL that libpq or the server refuses for good (a misspelt option, a value libpq does not take, SSL
the server does not offer) fails at once with one message naming what is at fault and the fix, instead of being
waited for through the reconnect window as a server that cannot be reached, then blamed on the server.

The server is real (tests/pg.py, without SSL, as initdb leaves it). Every URL waits ``reconnect_for=5`` seconds for
a server it cannot reach, so a refusal taken for an outage shows as a wait of at least that long.
"""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from tests.pg import PostgresServer
from tunesmith.cli import cli
from tunesmith.errors import StorageUnavailable
from tunesmith.storage import SQLStorage
from tunesmith.storage._failures import ServerGone

pytest.importorskip("psycopg")

# Far below the reconnect window the URLs give (5 s), far above a refusal's own time.
AT_ONCE = 2.0


def _refusal(url: str) -> str:
    """The message opening ``url`` fails with, checked to have come at once and not as a server gone away."""
    began = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        SQLStorage(url).close()
    took = time.monotonic() - began
    assert not isinstance(raised.value, ServerGone), str(raised.value)
    assert took < AT_ONCE, f"took {took:.1f} s: {raised.value}"
    message = str(raised.value)
    assert "check that the server runs" not in message
    return message


def test_a_misspelt_option_fails_at_once_naming_it_and_the_option_meant(postgres: PostgresServer) -> None:
    url = f"postgresql://tunesmith:hunter2@127.0.0.1:{postgres.port}/postgres?sslmod=require&reconnect_for=5"
    message = _refusal(url)
    assert f"PostgreSQL at postgresql://tunesmith:***@127.0.0.1:{postgres.port}/postgres?" in message
    assert "'sslmod' is not a connection option: did you mean sslmode? correct or remove it in the URL" in message
    assert "hunter2" not in message


def test_a_misspelt_sslmode_value_fails_at_once_naming_the_value_and_the_word_meant(postgres: PostgresServer) -> None:
    message = _refusal(f"{postgres.url}?sslmode=requir&reconnect_for=5")
    assert "got sslmode='requir': did you mean sslmode=require? correct it in the URL" in message


def test_sslmode_require_against_a_server_without_ssl_fails_at_once_saying_how_to_connect(
    postgres: PostgresServer,
) -> None:
    message = _refusal(f"{postgres.url}?sslmode=require&reconnect_for=5")
    assert "the URL's sslmode=require requires SSL and the server at that host and port does not offer it" in message
    assert "ssl = on" in message and "sslmode=prefer" in message


def test_a_server_setting_the_server_does_not_know_fails_at_once_naming_it(postgres: PostgresServer) -> None:
    message = _refusal(f"{postgres.url}?options=-c%20lock_timeot%3D1s&reconnect_for=5")
    assert "the server has no setting 'lock_timeot', which the URL sets (options=-c lock_timeot=...)" in message


def test_a_first_connection_refused_for_a_reason_other_than_an_outage_is_not_waited_for(
    postgres: PostgresServer,
) -> None:
    # A server that answers is no outage, whatever its answer (here: it is no standby).
    message = _refusal(f"{postgres.url}?target_session_attrs=standby&reconnect_for=5")
    assert "server is not in hot standby mode" in message


def test_the_cli_prints_a_misspelt_option_as_one_line_at_once(postgres: PostgresServer) -> None:
    began = time.monotonic()
    result = CliRunner().invoke(cli, ["studies", "--storage", f"{postgres.url}?sslmod=require&reconnect_for=5"])
    assert time.monotonic() - began < AT_ONCE
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot connect to PostgreSQL at "), result.output
    assert "did you mean sslmode?" in lines[0]
