from __future__ import annotations

import pytest

from tests.faults import report


@pytest.fixture
def long_mode(request: pytest.FixtureRequest) -> bool:
    """--faults-long: the nightly-sized runs (more mails, more kills, longer outages)."""
    return bool(request.config.getoption("--faults-long"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.testsfailed == 0:
        report.write()
