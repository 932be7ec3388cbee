"""The PostgreSQL schema of the fleet store, versioned and applied idempotently.

Each entry of :data:`MIGRATIONS` moves the schema from version N-1 to N; ``fleet init`` (and
every PgStore on connecting, read-only check) compares ``certbot_like_meta.schema_version``
with :data:`SCHEMA_VERSION`. A migration runs in one transaction under an advisory lock,
so two nodes running ``fleet init`` at once apply it once.

What is stored (private keys only sealed, see :mod:`certbot_like.storage.sealed`):

- ``cl_lineages``: name, ``[renewalparams]`` as JSON, the current version and the
  *generation*, a counter bumped by every change (the change token and the compare-and-swap
  value), who renewed it last and when;
- ``cl_versions``: every version's certificate, chain and fullchain, and the sealed key;
- ``cl_accounts``: ACME accounts (sealed JWK, registration, pending rollover key, sealed);
- ``cl_state`` / ``cl_servers``: the shared renewal state (ARI, Retry-After, last outcome);
- ``cl_locks``: one lease per lineage with its fencing token; ``cl_nodes``: who runs;
- ``cl_challenges``: HTTP-01 key authorizations published for ``fleet serve-challenges``.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1
MIGRATION_LOCK = 0x63_6C_66_6C  # pg_advisory_xact_lock key while migrating ("clfl")

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE IF NOT EXISTS cl_lineages (
    name text PRIMARY KEY,
    params jsonb NOT NULL,
    current_version integer,
    generation bigint NOT NULL DEFAULT 1,
    renewed_by text,
    renewed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS cl_versions (
    lineage text NOT NULL REFERENCES cl_lineages(name) ON DELETE CASCADE,
    version integer NOT NULL,
    cert bytea NOT NULL,
    chain bytea NOT NULL,
    fullchain bytea NOT NULL,
    privkey_sealed bytea NOT NULL,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lineage, version)
);
CREATE TABLE IF NOT EXISTS cl_accounts (
    server text NOT NULL,
    account_id text NOT NULL,
    uri text,
    key_sealed bytea,
    body jsonb NOT NULL DEFAULT '{}',
    meta jsonb NOT NULL DEFAULT '{}',
    pending_sealed bytea,
    moved boolean NOT NULL DEFAULT false,
    created bigserial,
    PRIMARY KEY (server, account_id)
);
CREATE TABLE IF NOT EXISTS cl_state (
    lineage text PRIMARY KEY,
    data jsonb NOT NULL,
    updated_by text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS cl_servers (
    server text PRIMARY KEY,
    ari boolean NOT NULL,
    checked double precision NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS cl_fencing;
CREATE TABLE IF NOT EXISTS cl_locks (
    name text PRIMARY KEY,
    node text NOT NULL,
    holder text NOT NULL,
    token bigint NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS cl_nodes (
    name text PRIMARY KEY,
    version text,
    last_run timestamptz,
    last_sync timestamptz,
    synced_generation bigint
);
CREATE TABLE IF NOT EXISTS cl_challenges (
    token text PRIMARY KEY,
    key_authorization text NOT NULL,
    expires_at timestamptz NOT NULL
);
""",
}

META_TABLE = """
CREATE TABLE IF NOT EXISTS certbot_like_meta (key text PRIMARY KEY, value text NOT NULL)
"""


def current_version(conn: Any) -> int:
    """The schema version the database is at (0: empty)."""
    row = conn.execute(
        "SELECT value FROM certbot_like_meta WHERE key = 'schema_version'"
        if _has_meta(conn)
        else "SELECT NULL"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _has_meta(conn: Any) -> bool:
    row = conn.execute("SELECT to_regclass('certbot_like_meta')").fetchone()
    return bool(row and row[0])


def migrate(conn: Any) -> tuple[int, int]:
    """Bring the schema to :data:`SCHEMA_VERSION` in one transaction (idempotent).

    Returns:
        (version before, version after).

    Raises:
        psycopg.Error: the database refused (the caller turns it into one line).
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(META_TABLE)
        before = current_version(conn)
        for version in range(before + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[version])
        conn.execute(
            "INSERT INTO certbot_like_meta (key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
    return before, SCHEMA_VERSION


def read_meta(conn: Any, key: str) -> str | None:
    """One value of ``certbot_like_meta`` (None when absent)."""
    row = conn.execute("SELECT value FROM certbot_like_meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def write_meta_once(conn: Any, key: str, value: str) -> str:
    """Set *key* unless it is set; return the value now stored."""
    conn.execute(
        "INSERT INTO certbot_like_meta (key, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (key, value),
    )
    stored = read_meta(conn, key)
    return value if stored is None else stored
