"""`--store` on the command line: one clear line for every bad input, psycopg only when asked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.harness.leaks import register_secret
from tests.harness.postgres import Postgres
from tests.harness.servers import Pebble, free_port
from tests.integration.conftest import Client, unique_name
from tests.integration.fleet_fixtures import make_nodes, postgres, store_url  # noqa: F401
from tests.integration.test_bad_input import assert_one_error


def test_a_password_in_a_store_url_on_the_command_line_is_refused(client: Client) -> None:
    register_secret("hunter2-not-here")
    url = "postgresql://fleet:hunter2-not-here@127.0.0.1:5432/fleet"
    result = client.run("certificates", "--store", url, register=False)
    assert_one_error(result, 2, "--store holds a password", "PGPASSFILE")
    other = client.run("certificates", "--store", "mysql://x@h/db", register=False)
    assert_one_error(other, 2, "postgresql://")


def test_an_unreachable_store_is_a_try_again_later_and_leaves_files_alone(
    client: Client,
) -> None:
    url = f"postgresql://fleet@127.0.0.1:{free_port()}/fleet"
    (client.config_dir).mkdir(parents=True)
    before = sorted(client.config_dir.rglob("*"))
    result = client.run("renew", "--store", url, "--no-random-sleep-on-renew", register=False)
    assert_one_error(result, 75, "cannot be reached", "try again later")
    after = [p for p in sorted(client.config_dir.rglob("*")) if p.name != ".certbot.lock"]
    assert after == before


def test_a_store_not_initialised_or_a_foreign_key_file_is_named(
    pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
) -> None:
    (node,) = make_nodes(pebble, store_url, tmp_path / "a", postgres, 1)
    assert node.fleet("init").returncode == 0
    again = node.fleet("init", "--json")
    assert again.returncode == 0 and '"key_created": false' in again.stdout
    fresh = postgres.new_database()
    (other,) = [n for n in make_nodes(pebble, fresh, tmp_path / "b", postgres, 1)]
    result = other.client.run_raw(["certificates", *other.client.base_args(), "--store", store_url])
    assert_one_error(result, 3, "store key file", "not the one")
    status = node.client.run_raw(["fleet", "status", *node.client.base_args()])
    assert_one_error(status, 2, "--store")


def test_without_store_psycopg_is_never_imported(client: Client) -> None:
    launcher = [
        sys.executable,
        "-c",
        "import atexit, sys\n"
        "atexit.register(lambda: print('psycopg loaded:', 'psycopg' in sys.modules))\n"
        "from certbot_like.cli.main import main\n"
        "main()\n",
    ]
    result = client.run("certificates", register=False, launcher=launcher)
    assert result.returncode == 0, result
    assert result.stdout.splitlines()[-1] == "psycopg loaded: False"


def test_obtain_certificates_and_delete_with_a_store_reach_every_node(
    pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
) -> None:
    first, second = make_nodes(pebble, store_url, tmp_path, postgres, 2)
    name = unique_name("obtained")
    made = first.run("obtain", "-d", name, *first.client.standalone_args(), register=True)
    assert made.returncode == 0, made
    assert (first.client.live(name) / "privkey.pem").exists()
    listed = second.run("certificates", "--json")
    assert listed.returncode == 0, listed
    assert [c["name"] for c in json.loads(listed.stdout)["certificates"]] == [name]
    synced = second.fleet("sync", "--json")
    assert json.loads(synced.stdout)["updated"] == [name]
    assert first.live_tree() == second.live_tree()
    changed = second.run(
        "reconfigure", "--cert-name", name, "--deploy-hook", "true",
        *second.client.standalone_args(),
    )  # fmt: skip
    assert changed.returncode == 0, changed
    assert first.fleet("sync").returncode == 0  # new settings, no new version: no hooks
    conf = (first.client.config_dir / "renewal" / f"{name}.conf").read_text()
    assert "renew_hook = true" in conf
    revoked = first.run("revoke", "--cert-name", name)
    assert revoked.returncode == 0 and "Revoked certificate" in revoked.stdout, revoked
    deleted = first.run("delete", "--cert-name", name)
    assert deleted.returncode == 0, deleted
    assert not first.client.live(name).exists()
    gone = second.fleet("sync", "--json")
    assert json.loads(gone.stdout)["deleted"] == [name]
    assert not second.client.live(name).exists()


def test_the_store_comes_from_cli_ini_or_the_environment(
    pebble: Pebble,
    store_url: str,  # noqa: F811
    tmp_path: Path,
    postgres: Postgres,  # noqa: F811
) -> None:
    (node,) = make_nodes(pebble, store_url, tmp_path, postgres, 1)
    ini = tmp_path / "cli.ini"
    ini.write_text(f"store = {store_url}\nnode-name = from-ini\n")
    base = node.client.base_args()
    by_ini = node.client.run_raw(["fleet", "sync", *base, "-c", str(ini)])
    assert by_ini.returncode == 0, by_ini
    node.client.env["CERTBOT_LIKE_STORE"] = store_url
    node.client.env["CERTBOT_LIKE_NODE_NAME"] = "from-env"
    by_env = node.client.run_raw(["fleet", "status", "--json", *base])
    assert by_env.returncode == 0, by_env
    names = {n["name"] for n in json.loads(by_env.stdout)["nodes"]}
    assert names == {"from-ini"}
    assert node.client.run_raw(["fleet", "sync", *base]).returncode == 0
    again = node.client.run_raw(["fleet", "status", "--json", *base])
    assert {n["name"] for n in json.loads(again.stdout)["nodes"]} == {"from-ini", "from-env"}
