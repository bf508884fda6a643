"""brokers/amqp_nodes.py: one URL per node of a cluster's URL."""

from __future__ import annotations

import pytest

from regmail.brokers.amqp_nodes import amqp_nodes, connect_nodes
from tests.support.waiting import free_port


def test_each_node_gets_the_credentials_vhost_and_options() -> None:
    url = "amqps://u:p%40ss@n1:5671,n2:5672 ,n3:5673/prod?heartbeat=10"
    assert amqp_nodes(url) == [
        "amqps://u:p%40ss@n1:5671/prod?heartbeat=10",
        "amqps://u:p%40ss@n2:5672/prod?heartbeat=10",
        "amqps://u:p%40ss@n3:5673/prod?heartbeat=10",
    ]


def test_a_one_node_url_is_kept_as_it_is() -> None:
    for url in ("amqp://u:p@host:5672/", "amqp://host", "amqp://u:p@host:5672/%2F"):
        assert amqp_nodes(url) == [url]


@pytest.mark.parametrize("url", ["host:5672", "amqp://u:p@n1:5672,,n2:5672/"])
def test_a_malformed_list_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        amqp_nodes(url)


async def test_no_node_answering_raises_the_last_nodes_error() -> None:
    url = f"amqp://u:p@127.0.0.1:{free_port()},127.0.0.1:{free_port()}/"
    with pytest.raises(ConnectionError):
        await connect_nodes(url, timeout=5)
