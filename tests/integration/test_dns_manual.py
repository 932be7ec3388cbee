"""End to end: ``--manual --preferred-challenges dns`` with certbot-style hooks and nsupdate.

The hooks are what a certbot user writes: they get ``CERTBOT_DOMAIN`` and
``CERTBOT_VALIDATION`` and publish the TXT record in BIND with ``nsupdate``; the cleanup hook
also gets ``CERTBOT_AUTH_OUTPUT``. Pebble validates against that BIND.
"""

from __future__ import annotations

from pathlib import Path

from tests.harness.bind import Bind
from tests.harness.servers import Pebble, require_binary
from tests.integration.checks import assert_lineage
from tests.integration.conftest import Client, assert_no_secrets
from tests.integration.dns_fixtures import bind, pebble, run  # noqa: F401

HOOK = """\
#!/bin/sh
set -e
{nsupdate} -k {keyfile} <<EOF
server 127.0.0.1 {port}
zone example.test
update {action} _acme-challenge.$CERTBOT_DOMAIN. {ttl} TXT "$CERTBOT_VALIDATION"
send
EOF
echo "$CERTBOT_DOMAIN $CERTBOT_VALIDATION left=$CERTBOT_REMAINING_CHALLENGES \
all=$CERTBOT_ALL_DOMAINS output=$CERTBOT_AUTH_OUTPUT" >> {journal}
echo "published $CERTBOT_VALIDATION"
"""


def write_hooks(root: Path, bind: Bind) -> tuple[Path, Path, Path]:  # noqa: F811
    keyfile = root / "tsig.key"
    keyfile.write_text(
        f'key "{bind.key_name}" {{ algorithm {bind.algorithm}; secret "{bind.secret}"; }};\n'
    )
    keyfile.chmod(0o600)
    journal = root / "journal"
    nsupdate = require_binary("nsupdate")
    hooks = []
    for action, ttl in (("add", "60"), ("delete", "")):
        hook = root / f"{action}.sh"
        hook.write_text(
            HOOK.format(
                nsupdate=nsupdate,
                keyfile=keyfile,
                port=bind.port,
                action=action,
                ttl=ttl,
                journal=journal,
            )
        )
        hook.chmod(0o700)
        hooks.append(hook)
    return hooks[0], hooks[1], journal


def test_manual_dns_hooks_like_certbots_get_a_wildcard_and_clean_up(
    client: Client,
    bind: Bind,  # noqa: F811
    pebble: Pebble,  # noqa: F811
) -> None:
    auth, cleanup, journal = write_hooks(client.root, bind)
    name = "manual.example.test"
    result = run(
        client,
        "obtain",
        "-d",
        name,
        "-d",
        f"*.{name}",
        "--manual",
        "--preferred-challenges",
        "dns",
        "--manual-auth-hook",
        str(auth),
        "--manual-cleanup-hook",
        str(cleanup),
    )
    assert result.returncode == 0, result
    assert_lineage(client.live(name), {name, f"*.{name}"}, pebble.root_pem())
    assert bind.txt(f"_acme-challenge.{name}") == set()
    lines = journal.read_text().splitlines()
    assert len(lines) == 4, lines  # two auth runs, then two cleanup runs
    auth_runs, cleanup_runs = lines[:2], lines[2:]
    values = [line.split()[1] for line in auth_runs]
    assert len(set(values)) == 2 and all(len(v) == 43 for v in values)
    assert [line.split()[2] for line in auth_runs] == ["left=1", "left=0"]
    assert all(f"all={name},{name} output=" in line for line in auth_runs)
    for line in cleanup_runs:
        value = line.split()[1]
        assert line.endswith(f"output=published {value}"), line
    assert_no_secrets(client, extra=(bind.secret,))
