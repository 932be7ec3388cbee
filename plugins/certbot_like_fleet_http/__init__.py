"""The ``fleet-http`` authenticator: HTTP-01 answers published in the fleet's store.

With ``--store``, each key authorization is written to the store; every node runs
``certbot-like fleet serve-challenges`` behind the load balancer (or its web server proxies
``/.well-known/acme-challenge/`` to it), so the CA's validation request passes whichever
node it reaches. Without ``--store`` the plugin refuses to run.
"""

from __future__ import annotations

from dataclasses import dataclass

from certbot_like.interfaces import HTTP01, PluginSpec, option

__all__ = ["PLUGIN", "FleetHttpOptions"]


@dataclass(frozen=True)
class FleetHttpOptions:
    """How long a published answer stays answerable (field name: the renewal conf key)."""

    fleet_http_ttl: int = option(
        "--fleet-http-ttl",
        default=600,
        metavar="SECONDS",
        help="Seconds a published HTTP-01 answer stays in the store if a run dies before "
        "withdrawing it (fleet-http).",
    )


PLUGIN = PluginSpec(
    name="fleet-http",
    description=(
        "Publish HTTP-01 answers in the fleet's store (--store); every node answers them "
        "with `certbot-like fleet serve-challenges`"
    ),
    authenticator=True,
    installer=False,
    options=FleetHttpOptions,
    factory="certbot_like_fleet_http.authenticator:FleetHttpAuthenticator",
    challenge_types=(HTTP01,),
)
