"""A renewal conf copied from the fleet's store to a node names that node's directories
(:func:`certbot_like.storage.pg_local.for_node`)."""

from __future__ import annotations

from pathlib import Path

from certbot_like.storage.layout import Layout
from certbot_like.storage.pg_local import for_node
from certbot_like.storage.renewal_params import RenewalParams

HERE = Layout(Path("/srv/b/config"), Path("/srv/b/work"), Path("/srv/b/logs"))


def test_the_writers_directories_become_this_nodes_and_paths_inside_them_move() -> None:
    stored = RenewalParams.from_conf(
        {
            "authenticator": "webroot",
            "config_dir": "/srv/a/config/",
            "work_dir": "/srv/a/work",
            "logs_dir": "/srv/a/logs",
            "ca_bundle": "/srv/a/config/ca.pem",
            "deploy_to": ["fullchain:/etc/haproxy/site.pem"],
            "webroot_path": "/var/www/html",
            "pkcs12_password_file": "/srv/a/work/p12",
        }
    )
    local = for_node(stored, HERE).to_conf()
    assert local["config_dir"] == "/srv/b/config"
    assert local["work_dir"] == "/srv/b/work" and local["logs_dir"] == "/srv/b/logs"
    assert local["ca_bundle"] == "/srv/b/config/ca.pem"
    assert local["pkcs12_password_file"] == "/srv/b/work/p12"
    assert local["deploy_to"] == ["fullchain:/etc/haproxy/site.pem"]  # outside: unchanged
    assert local["webroot_path"] == "/var/www/html"
    assert list(local) == list(stored.to_conf())  # same keys, same order


def test_settings_without_directories_or_with_this_nodes_are_kept_as_they_are() -> None:
    plain = RenewalParams.from_conf({"authenticator": "standalone", "ca_bundle": "/x/ca.pem"})
    assert for_node(plain, HERE) is plain
    own = RenewalParams.from_conf({"config_dir": "/srv/b/config", "work_dir": "/srv/b/work"})
    assert for_node(own, HERE) is own
    assert "logs_dir" not in for_node(own, HERE).to_conf()
