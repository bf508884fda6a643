"""Every route's endpoint and dependencies are coroutines: FastAPI runs a plain `def` in
its thread pool, a trip to another thread and back on every request (api/deps.py)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from regmail.roles import api
from regmail.runtime import Runtime
from tests.support.service import make_settings


def _run_in_a_thread(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for dependency in dependant.dependencies:
        call = dependency.call
        if call is not None and not (
            inspect.iscoroutinefunction(call)
            or inspect.isasyncgenfunction(call)
            or inspect.iscoroutinefunction(type(call).__call__)  # a security scheme's
        ):
            found.add(getattr(call, "__qualname__", repr(call)))
        found |= _run_in_a_thread(dependency)
    return found


def _api_routes(routes: Sequence[BaseRoute]) -> list[APIRoute]:
    """The app's routes, through the routers it includes (FastAPI keeps those whole)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _api_routes(included.routes)
    return found


async def test_no_route_or_dependency_runs_in_fastapis_thread_pool(tmp_path: Path) -> None:
    runtime = Runtime.build(make_settings(tmp_path))
    try:
        app = api(runtime)
        routes = _api_routes(app.routes)
        assert len(routes) > 20
        sync = {r.path for r in routes if not inspect.iscoroutinefunction(r.endpoint)}
        for route in routes:
            sync |= _run_in_a_thread(route.dependant)
    finally:
        await runtime.close()
    assert sync == set()
