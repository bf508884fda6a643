from pathlib import Path

from typer.testing import CliRunner

from regmail.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_generated_from_settings() -> None:
    result = CliRunner().invoke(app, ["config-reference"])
    assert result.exit_code == 0
    assert (ROOT / "docs" / "configuration.md").read_text() == result.stdout, (
        "docs/configuration.md is stale: regmail config-reference > docs/configuration.md"
    )


def test_readme_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    commands = [line for line in lines[:15] if line.startswith("scripts/")]
    assert commands[:2] == ["scripts/dev", "scripts/test"]
