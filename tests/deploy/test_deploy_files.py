"""deploy/ as an operator uses it (issue 19): compose and Kubernetes files valid against
their schemas, systemd units verified and every ExecStart run with exactly the unit's
environment, and the commands of docs/deploy.md run as written."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.processes import clean_env
from tests.support.service import TEST_DEFAULTS
from tests.support.waiting import eventually, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
VENV_BIN = Path(sys.executable).parent


def test_compose_is_valid_against_the_compose_specification() -> None:
    checked = subprocess.run(
        [VENV_BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec",
         DEPLOY / "compose.yaml"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    [built] = [s for s in compose["services"].values() if "build" in s]
    context = DEPLOY / built["build"]["context"]
    assert (context / built["build"]["dockerfile"]).is_file()  # the repository's Containerfile
    # The image, not the source tree mounted into a stock Python image (read-only, and
    # `pip install` at every start).
    assert not [s for s in compose["services"].values() if "volumes" in s]


def test_kubernetes_manifests_are_valid_against_the_kubernetes_schemas() -> None:
    checked = subprocess.run(
        [VENV_BIN / "kubernetes-validate", "--strict", "--quiet",
         DEPLOY / "kubernetes" / "regmail.yaml"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for document in yaml.safe_load_all((DEPLOY / "kubernetes" / "regmail.yaml").read_text()):
        pod = document.get("spec", {}).get("template", {}).get("spec")
        if pod is not None:
            assert pod["securityContext"]["runAsNonRoot"] is True


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", tmp_path / "usr/lib/systemd/system", symlinks=True)
    regmail = tmp_path / "opt/regmail/.venv/bin/regmail"
    regmail.parent.mkdir(parents=True)
    regmail.write_text("#!/bin/sh\n")
    regmail.chmod(0o755)
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, units)
    instances = [u.name.replace("@.", "@8001.") for u in UNITS]
    verified = subprocess.run(
        ["systemd-analyze", "verify", f"--root={tmp_path}", *(str(units / i) for i in instances)],
        capture_output=True,
        text=True,
    )
    assert (verified.returncode, verified.stderr) == (0, ""), verified.stderr


def unit_sections(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A unit file's sections as (key, value) lists (keys repeat in systemd units)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def environment_file(path: Path) -> dict[str, str]:
    """What systemd's EnvironmentFile= makes of a file: KEY=VALUE lines, # and ; comments."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip().strip('"')
    return env


class TempRoot:
    """The host's paths the units name, under a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, text: str) -> str:
        text = text.replace("/opt/regmail/.venv/bin/", f"{VENV_BIN}/")
        return re.sub(r"(?<![\w.])/(etc|run|opt)/", lambda m: f"{self.root}/{m[1]}/", text)


def the_servers(postgres_url: str, rabbit: dict[str, Any], smtp_sink: Any) -> dict[str, str]:
    """What an operator writes over the example's CHANGE-MEs: here, the test servers."""
    return {
        "REGMAIL_DATABASE_URL": postgres_url,
        "REGMAIL_BROKER_URL": rabbit["broker_url"],
        "REGMAIL_RABBITMQ_PREFIX": rabbit["rabbitmq_prefix"],
        "REGMAIL_SMTP_URL": smtp_sink.url,
        "REGMAIL_SECRET_KEY": TEST_DEFAULTS["secret_key"],
        "REGMAIL_ADMIN_TOKEN": TEST_DEFAULTS["admin_token"],
    }


def operator_env_file(root: TempRoot, servers: dict[str, str]) -> Path:
    """deploy/systemd/regmail.env.example with every CHANGE-ME filled in."""
    text = (DEPLOY / "systemd" / "regmail.env.example").read_text()
    for name, value in servers.items():
        text = re.sub(rf"^{name}=.*$", f"{name}={value}", text, flags=re.M)
        if f"{name}=" not in text:
            text += f"{name}={value}\n"
    assert "CHANGE-ME" not in text, text
    env_file = Path(root.path("/etc/regmail/regmail.env"))
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text(text)
    return env_file


@asynccontextmanager
async def started_unit(root: TempRoot, unit: Path, instance: str) -> AsyncIterator[Any]:
    """The unit's ExecStartPre and ExecStart, with exactly its Environment= and
    EnvironmentFile= (paths under `root`), as systemd would run them; RuntimeDirectory=
    made first. Yields the running ExecStart (stopped with SIGTERM after)."""
    service = unit_sections(unit)["Service"]
    env = clean_env("PROMETHEUS_")
    for key, value in service:
        value = root.path(value.replace("%i", instance))
        if key == "EnvironmentFile":
            env.update({k: root.path(v) for k, v in environment_file(Path(value)).items()})
        elif key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = setting
        elif key == "RuntimeDirectory":
            for directory in value.split():
                Path(root.path(f"/run/{directory}")).mkdir(parents=True, exist_ok=True)
    for key, value in service:
        if key == "ExecStartPre":
            command = shlex.split(root.path(value.replace("%i", instance)))
            assert subprocess.run(command, env=env, timeout=60).returncode == 0, value
    [start] = [root.path(v.replace("%i", instance)) for k, v in service if k == "ExecStart"]
    log = root.root / f"{unit.stem}.log"
    process = subprocess.Popen(
        shlex.split(start), env=env, cwd=root.root, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 45)


async def test_every_unit_runs_with_exactly_its_environment(
    tmp_path: Path, postgres_url: str, rabbit: dict[str, Any], smtp_sink: Any
) -> None:
    smtp_sink.start()
    root = TempRoot(tmp_path)
    servers = the_servers(postgres_url, rabbit, smtp_sink)
    operator_env_file(root, {**servers, "REGMAIL_RELAY_IN_SERVE": "false"})  # relay unit relays
    units = {unit.stem: unit for unit in UNITS}
    async with started_unit(root, units["regmail-migrate"], "") as (migrate, log):
        assert await asyncio.to_thread(migrate.wait, 60) == 0, log.read_text()
    port = free_port()
    async with (
        started_unit(root, units["regmail-api@"], str(port)) as (api, _),
        started_unit(root, units["regmail-relay"], "") as (relay, _),
        started_unit(root, units["regmail-worker@"], "1") as (worker, _),
    ):
        await asyncio.to_thread(wait_for_port, port, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            signup = {"email": "unit@example.com", "password": "correct horse"}
            assert (await client.post("/v1/registrations", json=signup)).status_code == 202

            async def delivered() -> int:
                return smtp_sink.received()

            assert await eventually(delivered, timeout=60) == 1
            # One host's processes in one /metrics: the worker's figures through the API.
            page = (await client.get("/metrics")).text
            assert re.search(r'regmail_mails_total\{outcome="sent"\} 1\.0', page), page[-2000:]
        assert [p.poll() for p in (api, relay, worker)] == [None, None, None]
    assert (tmp_path / "run/regmail/metrics").is_dir()


HOST_ONLY = ("useradd", "systemctl", "editor")  # need a real host (a user, systemd, a person)


async def test_the_commands_in_docs_deploy_md_run_as_written(
    tmp_path: Path, postgres_url: str, rabbit: dict[str, Any], smtp_sink: Any
) -> None:
    smtp_sink.start()
    docs = (ROOT / "docs" / "deploy.md").read_text()
    block = docs.split("## One host with systemd", 1)[1].split("```sh\n", 1)[1].split("```")[0]
    root = TempRoot(tmp_path)
    ran = []
    for line in block.splitlines():
        command = line.split("   #")[0].strip().removeprefix("sudo ")
        if any(word in command.split("&&")[0].split() for word in HOST_ONLY):
            if "editor" in command:  # the operator fills in the file
                operator_env_file(root, the_servers(postgres_url, rabbit, smtp_sink))
            continue
        command = command.replace("/opt/regmail/.venv/bin/", f"{tmp_path}/opt/regmail/.venv/bin/")
        command = re.sub(r"(?<![\w.])/(etc|opt)/", lambda m: f"{tmp_path}/{m[1]}/", command)
        done = await asyncio.to_thread(
            subprocess.run, command, shell=True, cwd=ROOT, env=clean_env("PIP_REQUIRE"),
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
        ran.append((line, done.stdout))
    assert len(ran) == 6, ran
    check = ran[-1][1]
    assert "FAIL" not in check and check.count("ok") >= 5, check
    assert os.stat(tmp_path / "etc/regmail/regmail.env").st_mode & 0o777 == 0o600
    assert len(list((tmp_path / "etc/systemd/system").glob("*.service"))) == len(UNITS)


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
