"""certbot's own list of long options, read from its argument parser (``--help all``).

Run with certbot's interpreter; it prints one line per option of certbot's parser: its
spellings, then ``value`` or ``flag``. ``tests/data/certbot-5.8-flags.txt`` is this output
for certbot 5.8 (``CERTBOT_BIN`` names the certbot to ask), and
``tests/integration/test_certbot_flags.py`` checks the file against the real binary::

    .venv-certbot/bin/python tests/harness/certbot_flags.py > tests/data/certbot-5.8-flags.txt
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from certbot._internal import cli
from certbot._internal.cli.helpful import HelpfulArgumentParser
from certbot._internal.plugins import disco

def dump(self):
    for action in self.parser._actions:
        if not any(o.startswith("--") for o in action.option_strings):
            continue
        kind = "flag" if action.nargs == 0 else "value"
        print(" ".join(action.option_strings), kind)
    sys.exit(0)

HelpfulArgumentParser.parse_args = dump
cli.prepare_and_parse_args(disco.PluginsRegistry.find_all(), ["--help", "all"])
"""


def certbot_flag_lines(certbot_bin: Path) -> list[str]:
    """The lines for the certbot installed beside *certbot_bin* (its venv's python).

    Raises:
        subprocess.CalledProcessError: certbot's parser could not be read.
    """
    python = certbot_bin.parent / "python"
    out = subprocess.run(
        [str(python), "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.splitlines()


if __name__ == "__main__":
    exec(compile(SCRIPT, "certbot_flags", "exec"))  # noqa: S102 - run inside certbot's venv
    sys.exit(0)
