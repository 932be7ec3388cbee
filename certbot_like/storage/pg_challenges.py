"""HTTP-01 answers shared by a fleet: the ``fleet-http`` authenticator publishes each key
authorization in ``cl_challenges`` (with an expiry), and ``fleet serve-challenges`` on every
node answers ``/.well-known/acme-challenge/TOKEN`` from there, so a validation passes
whichever node the load balancer picks. Key authorizations are not secret (the CA fetches
them over plain HTTP), so they are stored as they are."""

from __future__ import annotations

from certbot_like.storage.pg_lease import Db


class PgChallenges:
    """The challenge half of :class:`~certbot_like.storage.pg_store.PgStore` (a mixin:
    the store gives ``_db``); it is the :class:`~certbot_like.interfaces.ChallengeBoard`
    handed to plugins with ``--store``."""

    _db: Db

    def publish(self, token: str, key_authorization: str, ttl: float) -> None:
        with self._db() as conn:
            conn.execute(
                "INSERT INTO cl_challenges (token, key_authorization, expires_at) VALUES "
                "(%s, %s, now() + make_interval(secs => %s)) ON CONFLICT (token) DO UPDATE "
                "SET key_authorization = excluded.key_authorization, "
                "expires_at = excluded.expires_at",
                (token, key_authorization, ttl),
            )
            conn.execute("DELETE FROM cl_challenges WHERE expires_at < now()")

    def withdraw(self, token: str) -> None:
        with self._db() as conn:
            conn.execute("DELETE FROM cl_challenges WHERE token = %s", (token,))

    def challenge_answer(self, token: str) -> str | None:
        """The key authorization published for *token* (None: unknown or expired).

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        with self._db() as conn:
            row = conn.execute(
                "SELECT key_authorization FROM cl_challenges "
                "WHERE token = %s AND expires_at > now()",
                (token,),
            ).fetchone()
        return None if row is None else str(row[0])
