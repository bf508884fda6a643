"""The container image as shipped (Containerfile): built with podman, then `migrate`,
`serve` and `worker` run from it against the test PostgreSQL and Postfix's smtp-sink, and
a sign-up's mail delivered. The deploy files' commands run against its entrypoint."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.service import TEST_DEFAULTS
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import eventually, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
TAG = "localhost/regmail:test"
# crun fails on this kernel's cgroup v1 hybrid layout; podman's default rlimits are above
# what the sandbox allows.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    built = subprocess.run(
        [str(ROOT / "scripts" / "container-image"), TAG],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    yield TAG


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)


def env_args(settings: dict[str, str]) -> list[str]:
    return [arg for name, value in settings.items() for arg in ("--env", f"{name}={value}")]


@asynccontextmanager
async def container(image: str, env: dict[str, str], *command: str) -> AsyncIterator[str]:
    """A detached container running `regmail COMMAND`, stopped (SIGTERM) and removed after."""
    name = f"regmail-test-{uuid.uuid4().hex[:8]}"
    started = podman(
        "run", "--detach", "--name", name, "--network", "host", *LIMITS, *env_args(env),
        image, *command,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        yield name
    finally:
        stopped = await asyncio.to_thread(podman, "stop", "--time", "30", name)
        logs = podman("logs", name)
        podman("rm", "--force", name)
        assert stopped.returncode == 0, stopped.stderr
        assert "Traceback" not in logs.stdout + logs.stderr, logs.stderr[-3000:]


def test_the_image_runs_as_an_unprivileged_user_with_regmail_as_entrypoint(image: str) -> None:
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["Entrypoint"] == ["regmail"] and config["Cmd"] == ["serve"]
    assert config["User"] == "10001"
    assert "/healthz" in " ".join(inspected["Healthcheck"]["Test"])
    who = podman("run", "--rm", *LIMITS, "--entrypoint", "id", image, "-u")
    assert who.stdout.strip() == "10001"


async def test_migrate_serve_and_worker_from_the_image_deliver_a_sign_up(
    image: str, postgres_url: str, smtp_sink: SmtpSink
) -> None:
    smtp_sink.start()
    port = free_port()
    env = {
        "REGMAIL_DATABASE_URL": postgres_url,
        "REGMAIL_SMTP_URL": smtp_sink.url,
        "REGMAIL_SECRET_KEY": TEST_DEFAULTS["secret_key"],
        "REGMAIL_ADMIN_TOKEN": TEST_DEFAULTS["admin_token"],
        "REGMAIL_HOST": "127.0.0.1",
        "REGMAIL_PORT": str(port),
        "REGMAIL_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    migrated = await asyncio.to_thread(
        podman, "run", "--rm", "--network", "host", *LIMITS, *env_args(env), image, "migrate"
    )
    assert migrated.returncode == 0, migrated.stderr
    async with container(image, env) as api, container(image, env, "worker"):
        await asyncio.to_thread(wait_for_port, port, 60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            answer = await client.post(
                "/v1/registrations",
                json={"email": "container@example.com", "password": "correct horse"},
            )
            assert answer.status_code == 202, answer.text

        async def delivered() -> int:
            return smtp_sink.received()

        assert await eventually(delivered, timeout=60) == 1
        health = await asyncio.to_thread(podman, "healthcheck", "run", api)
        assert health.returncode == 0, health.stdout + health.stderr


def test_the_deploy_files_commands_are_the_images_commands(image: str) -> None:
    """Each command the compose file and the Kubernetes manifests give the image is one
    its entrypoint knows (`regmail <command> --help` exits 0)."""
    commands = []
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    ours = [s for s in compose["services"].values() if "REGMAIL_IMAGE" in s.get("image", "")]
    commands += [service["command"] for service in ours]
    manifests = (ROOT / "deploy" / "kubernetes" / "regmail.yaml").read_text()
    for document in yaml.safe_load_all(manifests):
        spec = document.get("spec", {}).get("template", {}).get("spec", {})
        commands += [c.get("args", []) for c in spec.get("containers", [])]
    assert len(commands) >= 6
    for command in {tuple(c) for c in commands}:
        known = podman("run", "--rm", *LIMITS, image, *command, "--help")
        assert known.returncode == 0, (command, known.stderr)
