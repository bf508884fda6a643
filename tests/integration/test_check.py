"""`regmail check` against real servers: says ok for each working part, and exactly what is
wrong with each broken one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.processes import regmail_cli
from tests.support.service import make_settings
from tests.support.tls_smtp import credentials, plain_port_server, smtp_url, tls_auth_server
from tests.support.waiting import free_port


def findings(stdout: str) -> dict[str, str]:
    """part → its line, from `regmail check`'s output."""
    return {line.split()[1]: line for line in stdout.splitlines() if line.strip()}


async def test_every_part_ok(tmp_path: Path, aiosmtpd_server: tuple[str, Any]) -> None:
    settings = make_settings(tmp_path, smtp_url=aiosmtpd_server[0])
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    result = await regmail_cli(settings, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    found = findings(result.stdout)
    assert set(found) == {"configuration", "database", "broker", "smtp", "templates"}
    assert all(line.startswith("ok") for line in found.values()), result.stdout
    assert "schema up to date" in found["database"]


async def test_an_unmigrated_database_and_a_dead_smtp_server(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    result = await regmail_cli(settings, "check")
    assert result.returncode == 1
    found = findings(result.stdout)
    assert found["database"].startswith("FAIL") and "run `regmail migrate`" in found["database"]
    assert found["smtp"].startswith("FAIL") and "connection refused" in found["smtp"]
    assert found["broker"].startswith("ok")  # one failure does not hide the others' state


async def test_a_broken_template_override_is_named(
    tmp_path: Path, aiosmtpd_server: tuple[str, Any]
) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    (own / "activation.en.html").write_text("{% block body %}unclosed")
    settings = make_settings(tmp_path, smtp_url=aiosmtpd_server[0], templates_dir=own)
    result = await regmail_cli(settings, "check")
    assert result.returncode == 1
    found = findings(result.stdout)
    assert found["templates"].startswith("FAIL"), result.stdout
    assert "activation.en.html" in found["templates"], result.stdout


async def test_an_unreachable_postgresql(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://regmail:secret-pw@127.0.0.1:{free_port()}/regmail"
    result = await regmail_cli(make_settings(tmp_path, database_url=url), "check")
    assert result.returncode == 1
    line = findings(result.stdout)["database"]
    assert line.startswith("FAIL") and "connection refused" in line
    assert "secret-pw" not in result.stdout + result.stderr


async def test_a_broker_that_is_down_or_not_prepared(
    tmp_path: Path, kafka: dict[str, Any], postgres_url: str
) -> None:
    down = make_settings(tmp_path, broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    line = findings((await regmail_cli(down, "check")).stdout)["broker"]
    assert line.startswith("FAIL") and "connection refused" in line.lower(), line

    # A real Kafka, but `regmail migrate` has not created this deployment's topics.
    unprepared = make_settings(tmp_path, database_url=postgres_url, **kafka)
    line = findings((await regmail_cli(unprepared, "check")).stdout)["broker"]
    assert line.startswith("FAIL") and "run `regmail migrate`" in line, line
    assert (await regmail_cli(unprepared, "migrate")).returncode == 0
    line = findings((await regmail_cli(unprepared, "check")).stdout)["broker"]
    assert line.startswith("ok"), line


async def test_rabbitmq_queue_found(tmp_path: Path, rabbit: dict[str, Any]) -> None:
    settings = make_settings(tmp_path, **rabbit)
    line = findings((await regmail_cli(settings, "check")).stdout)["broker"]
    assert line.startswith("FAIL") and "run `regmail migrate`" in line, line
    assert (await regmail_cli(settings, "migrate")).returncode == 0
    line = findings((await regmail_cli(settings, "check")).stdout)["broker"]
    assert line.startswith("ok") and "holds 0 messages" in line, line


async def test_a_wrong_smtp_password_against_a_tls_server(tmp_path: Path) -> None:
    async with tls_auth_server(tmp_path, "starttls") as (port, _):
        wrong = make_settings(tmp_path, smtp_url=smtp_url("smtp", port, password="wrong"))
        line = findings((await regmail_cli(wrong, "check")).stdout)["smtp"]
        assert line.startswith("FAIL") and "refused the user name or password (535" in line
        right = make_settings(tmp_path, smtp_url=smtp_url("smtp", port))
        line = findings((await regmail_cli(right, "check")).stdout)["smtp"]
        assert line.startswith("ok") and "STARTTLS, AUTH as sender@example.com" in line, line


async def test_the_tls_state_is_reported(tmp_path: Path) -> None:
    async with plain_port_server(tmp_path, offer_starttls=True) as (port, _, _):
        url = f"smtp://127.0.0.1:{port}?ca_file={tmp_path / 'cert.pem'}"
        line = findings((await regmail_cli(make_settings(tmp_path, smtp_url=url), "check")).stdout)
        assert line["smtp"].startswith("ok") and "STARTTLS, no AUTH" in line["smtp"], line
    async with plain_port_server(tmp_path, offer_starttls=False) as (port, _, _):
        plain = make_settings(tmp_path, smtp_url=f"smtp://127.0.0.1:{port}")
        line = findings((await regmail_cli(plain, "check")).stdout)["smtp"]
        assert line.startswith("ok") and "no TLS (the server offers no STARTTLS" in line, line
        with_auth = make_settings(tmp_path, smtp_url=f"smtp://{credentials()}@127.0.0.1:{port}")
        line = findings((await regmail_cli(with_auth, "check")).stdout)["smtp"]
        assert line.startswith("FAIL") and "password in clear text" in line, line


async def test_invalid_configuration_names_the_variable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    env_override = settings.model_copy(update={"worker_concurrency": 0})
    result = await regmail_cli(env_override, "check")
    assert result.returncode == 1
    assert "FAIL configuration  REGMAIL_WORKER_CONCURRENCY" in result.stdout
