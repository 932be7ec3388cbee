"""`make demo`: obtain a real certificate from a local Pebble CA in one command.

Starts Pebble and pebble-challtestsrv on free loopback ports, runs
``certbot-like obtain --standalone`` for a ``.test`` name, prints where the certificate is
and what it says (subject, issuer, expiry), and stops Pebble. The files stay in ``.demo/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509

from tests.harness.servers import Pebble

ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = ROOT / ".demo"
NAME = "demo.certbot-like.test"


def main() -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir()
    pebble_dir = Path(tempfile.mkdtemp(prefix="certbot-like-demo-pebble-"))
    print("Starting a local Pebble ACME CA ...", flush=True)
    pebble = Pebble(pebble_dir).start()
    try:
        print(f"Pebble is at {pebble.directory_url}\n", flush=True)
        command = [
            str(ROOT / ".venv" / "bin" / "certbot-like"),
            "obtain",
            "-d",
            NAME,
            "--server",
            pebble.directory_url,
            "--ca-bundle",
            str(pebble.ca_bundle),
            "--config-dir",
            str(DEMO_DIR / "config"),
            "--work-dir",
            str(DEMO_DIR / "work"),
            "--logs-dir",
            str(DEMO_DIR / "logs"),
            "--standalone",
            "--http-01-address",
            "127.0.0.1",
            "--http-01-port",
            str(pebble.http_port),
            "--agree-tos",
            "--register-unsafely-without-email",
            "-n",
        ]
        print("$ certbot-like obtain -d", NAME, "--standalone --server <pebble> ...", flush=True)
        started = time.monotonic()
        result = subprocess.run(command, check=False)
        elapsed = time.monotonic() - started
        if result.returncode != 0:
            print(
                f"\nThe demo failed (exit {result.returncode}); see {DEMO_DIR / 'logs'}",
                file=sys.stderr,
            )
            return result.returncode
        live = DEMO_DIR / "config" / "live" / NAME
        cert = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
        print(f"\nObtained in {elapsed:.2f} s. The certificate:")
        print(f"  fullchain: {live / 'fullchain.pem'}")
        print(f"  privkey:   {live / 'privkey.pem'}")
        print(f"  subject:   {cert.subject.rfc4514_string()}")
        print(f"  issuer:    {cert.issuer.rfc4514_string()}")
        print(f"  expires:   {cert.not_valid_after_utc:%Y-%m-%d %H:%M UTC}")
        return 0
    finally:
        pebble.stop()
        shutil.rmtree(pebble_dir, ignore_errors=True)
        print("Pebble stopped.")


if __name__ == "__main__":
    sys.exit(main())
