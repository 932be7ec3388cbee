"""Make a CA forget that an account already proved control of its names.

Pebble reuses an account's valid authorization for a new order with a chance of
``PEBBLE_AUTHZREUSE`` percent, but its check is ``rand.Intn(100) > percent`` for a fresh
one, so even ``PEBBLE_AUTHZREUSE=0`` reuses one order in a hundred. A test whose next order
must really be validated (a broken webroot or port must fail it) deactivates the account's
valid authorizations first (RFC 8555 section 7.5.2): a deactivated one is never reused.
"""

from __future__ import annotations

from pathlib import Path

from certbot_like.protocol.account_keys import key_from_json
from certbot_like.protocol.client import AcmeClient
from certbot_like.protocol.http import UNLIMITED, Transport
from certbot_like.storage.accounts import AccountStore
from certbot_like.storage.layout import Layout


def deactivate_valid_authorizations(server: str, ca_bundle: Path, config_dir: Path) -> int:
    """Deactivate every valid authorization of every account in *config_dir* for *server*.

    Returns how many were deactivated.

    Raises:
        AssertionError: the CA does not list the account's orders.
        AcmeError: the CA refused a request.
    """
    layout = Layout(config_dir, config_dir.parent / "work", config_dir.parent / "logs")
    accounts = AccountStore(layout, server)
    done = 0
    for account_id in accounts.ids():
        stored = accounts.load(account_id)
        transport = Transport(ca_bundle, 30.0, UNLIMITED, "tests")
        try:
            done += _deactivate(AcmeClient(transport, server, ()), stored.key_jwk, stored.uri)
        finally:
            transport.close()
    return done


def _deactivate(client: AcmeClient, key_jwk: dict[str, object], uri: str) -> int:
    client.set_account(key_from_json(key_jwk), uri)
    account = client.post_as_get(uri, what="the account").json()
    orders_url = account.get("orders")
    assert isinstance(orders_url, str), f"the CA lists no orders for {uri}"
    done = 0
    for order_url in client.post_as_get(orders_url, what="the orders").json().get("orders", []):
        order = client.post_as_get(order_url, what="an order").json()
        for authz_url in order.get("authorizations", []):
            authz = client.post_as_get(authz_url, what="an authorization").json()
            if authz.get("status") == "valid":
                client.post(authz_url, {"status": "deactivated"}, what="deactivating")
                done += 1
    return done
