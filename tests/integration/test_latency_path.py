"""The bench's latency proxies in front of a real Pebble (tests/bench/rtt.py's set-up).

Shows what docs/performance.md and tests/bench/README.md claim of the ``rtt`` scenario:
Pebble's directory names the proxy's port (so every ACME request goes through it), its
HTTP-01 validation reaches the client's standalone server through the validation proxy,
and an issuance pays the round trips.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from pathlib import Path

from tests.bench.latency import proxied
from tests.bench.rtt import through
from tests.harness.servers import Pebble
from tests.integration.conftest import Client, unique_name


def test_issuance_goes_through_both_proxies(pebble: Pebble, tmp_path: Path) -> None:
    rtt = 0.05
    with proxied(pebble.port, pebble.http_port, rtt) as pair:
        view = through(pebble, pair)
        assert view.directory_url == f"https://127.0.0.1:{pair.acme.port}/dir"
        context = ssl.create_default_context(cafile=str(pebble.ca_bundle))
        with urllib.request.urlopen(view.directory_url, context=context, timeout=10) as resp:
            directory = json.load(resp)
        prefix = f"https://127.0.0.1:{pair.acme.port}/"
        assert all(url.startswith(prefix) for url in directory.values() if "://" in url)

        client = Client(view, tmp_path)
        registered = client.run("register")
        assert registered.returncode == 0, registered
        before = pair.acme.connections
        started = time.perf_counter()
        result = client.obtain(unique_name("rtt"))
        wall = time.perf_counter() - started
        assert result.returncode == 0, result

        assert pair.acme.connections > before
        assert pair.validation.connections >= 1  # Pebble's validator came through it
    # 9 requests (2n+7), a TCP and a TLS handshake: at least 11 round trips
    assert wall >= 11 * rtt, wall
