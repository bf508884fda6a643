"""Sign-up latency against a running regmail (or any endpoint of the same shape).

    python bench/signup_latency.py --url http://127.0.0.1:8000 --clients 8 --seconds 30

N clients post distinct registrations back to back for a fixed time; prints the count,
the rate and p50/p95/p99 in milliseconds as one JSON line. `steady` is the open-loop
probe (a fixed rate of arrivals) bench/run times sign-up latency and end to end with; it
starts no server itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import httpx

# Below uvicorn's keep-alive timeout (5 s, httpx's default expiry too): at equal values a
# connection the server is closing could be taken for a request, which then fails with a
# ReadError (it ended a full bench/run in the inline peer's scenario, 2026-12-06).
KEEPALIVE_EXPIRY = 2.0


async def client_loop(
    client: httpx.AsyncClient, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    while time.perf_counter() < deadline:
        body = {"email": f"bench-{uuid.uuid4().hex}@example.com", "password": "correct horse"}
        started = time.perf_counter()
        response = await client.post("/v1/registrations", json=body)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 202:
            errors.append(response.status_code)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def main(url: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=clients, keepalive_expiry=KEEPALIVE_EXPIRY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(client_loop(client, deadline, latencies, errors) for _ in range(clients))
        )
    ms = [v * 1000 for v in latencies]
    return {
        "requests": len(ms),
        "errors": len(errors),
        "per_s": round(len(ms) / seconds, 1),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "p99_ms": round(percentile(ms, 99), 1),
    }


async def steady(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Open loop: a sign-up every 1/rate s whatever the answers take (as real users do);
    the answers' latencies are timed from when each sign-up was due."""
    latencies: list[float] = []

    async def register(client: httpx.AsyncClient, due: float) -> int:
        body = {"email": f"e2e-{uuid.uuid4().hex}@example.com", "password": "correct horse"}
        try:
            status = (await client.post("/v1/registrations", json=body)).status_code
        except httpx.TransportError:
            return 0  # counted as an error: one lost answer must not end the run
        latencies.append((time.perf_counter() - due) * 1000)
        return status

    limits = httpx.Limits(max_connections=256, keepalive_expiry=KEEPALIVE_EXPIRY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        sent: list[asyncio.Task[int]] = []
        for i in range(int(rate * seconds)):
            due = started + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))  # pacing
            sent.append(asyncio.create_task(register(client, due)))
        codes = await asyncio.gather(*sent)
        elapsed = time.perf_counter() - started
    accepted = sum(1 for code in codes if code == 202)
    return {"accepted": accepted, "errors": len(codes) - accepted,
            "achieved_per_s": round(accepted / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1)}  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.url, args.clients, args.seconds))))
