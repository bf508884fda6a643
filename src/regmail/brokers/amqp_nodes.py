"""The nodes of a RabbitMQ cluster in one URL, and a connection that moves between them.

`amqp://user:pass@node1:5672,node2:5672,node3:5672/vhost` names every node (as libpq's
and Kafka's address lists do). aio-pika connects to one host; its robust connection
reconnects, and restores channels, queues and consumers, but always to that host. Here
each attempt to (re)connect goes to the next node, round robin, as the RabbitMQ Java
client's address list does: when a node is lost, the connection recovers on another
within a reconnect interval, and a restarted node is found again in its turn. A plain
connection (`connect_first`) takes the first node that answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import aio_pika
from yarl import URL

RECONNECT_SECONDS = 1.0  # between attempts, each to the next node
T = TypeVar("T")


def amqp_nodes(url: str) -> list[str]:
    """One URL per node, in the order given; a one-node URL comes back as it is."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("an AMQP URL looks like amqp://user:pass@host:5672/vhost")
    netloc, slash, tail = rest.partition("/")
    credentials, at, hosts = netloc.rpartition("@")
    nodes = [h.strip() for h in hosts.split(",")]
    if not all(nodes):
        raise ValueError("an empty host in the AMQP URL's list of nodes")
    return [f"{scheme}://{credentials}{at}{node}{slash}{tail}" for node in nodes]


class _NodesConnection(aio_pika.RobustConnection):
    """A robust connection whose every connection attempt goes to the next node."""

    NODES: tuple[URL, ...] = ()

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any):
        self._turn = 0
        super().__init__(url, loop=loop, **kwargs)
        self._turn = 0  # __init__ read the URL once for its query options

    @property
    def url(self) -> URL:
        # aio-pika reads the URL once per connection attempt (Connection.connect);
        # __str__ below keeps logging from reading it.
        node = self.NODES[self._turn % len(self.NODES)]
        self._turn += 1
        return node

    @url.setter
    def url(self, value: URL) -> None:
        """aio-pika sets it once, from the first node: the list is fixed."""

    def __str__(self) -> str:
        return ",".join(str(node.with_password("******")) for node in self.NODES)


async def connect_first(url: str, timeout: float) -> aio_pika.abc.AbstractConnection:  # noqa: ASYNC109
    """A plain connection to the first node, in order, that answers (for publishing:
    dropped on failure, made again, brokers/rabbitmq.py)."""
    nodes = amqp_nodes(url)
    return await _first_answering([partial(aio_pika.connect, n, timeout=timeout) for n in nodes])


async def connect_nodes(url: str, timeout: float) -> aio_pika.abc.AbstractRobustConnection:  # noqa: ASYNC109
    """A robust connection to the first node that answers, moving on to the next node
    whenever it must reconnect. The first connection tries each node once."""
    nodes = tuple(URL(node) for node in amqp_nodes(url))
    attempts = []
    for first in range(len(nodes)):
        order = nodes[first:] + nodes[:first]
        connection_class = type("NodesConnection", (_NodesConnection,), {"NODES": order})
        attempts.append(
            partial(
                aio_pika.connect_robust,
                str(order[0]),
                timeout=timeout,
                reconnect_interval=RECONNECT_SECONDS,
                connection_class=connection_class,
            )
        )
    return await _first_answering(attempts)


async def _first_answering(attempts: Sequence[Callable[[], Awaitable[T]]]) -> T:
    """The first attempt that connects, in order; else the last one's error."""
    last: Exception | None = None
    for attempt in attempts:
        try:
            return await attempt()
        except (aio_pika.exceptions.AMQPConnectionError, OSError, TimeoutError) as error:
            last = error
    assert last is not None
    raise last
