"""Write the files the Debian package holds besides the client, all generated from the code:

* the systemd service and timer: the text of ``certbot-like schedule install``
  (:mod:`certbot_like.schedule.units`) for ``/usr/bin/certbot-like``, with a first line that
  says the package shipped them;
* the man pages (:mod:`tests.harness.gen_man`);
* bash, zsh and fish completion: what click prints for ``_CERTBOT_LIKE_COMPLETE=bash_source``
  (``zsh_source``, ``fish_source``), the same text ``certbot-like completion SHELL`` prints.

``python -m tests.harness.gen_package_files ROOT`` writes them under ROOT (``debian/rules``
runs it with the package's own virtualenv, so the completion scripts come from the
installed entry point's code).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from certbot_like.schedule.units import (
    MARKER,
    SERVICE_NAME,
    TIMER_NAME,
    Schedule,
    render_service,
    render_timer,
)
from tests.harness.clirun import run_cli
from tests.harness.gen_man import write_all

EXECUTABLE = Path("/usr/bin/certbot-like")
UNIT_DIR = Path("lib/systemd/system")
PACKAGE_HEADER = "# Shipped by the certbot-like Debian package; edits here are lost on upgrade."
#: shell -> (click's instruction, where Debian's shells look for vendor completion files)
COMPLETIONS = {
    "bash": ("bash_source", Path("usr/share/bash-completion/completions/certbot-like")),
    "zsh": ("zsh_source", Path("usr/share/zsh/vendor-completions/_certbot-like")),
    "fish": ("fish_source", Path("usr/share/fish/vendor_completions.d/certbot-like.fish")),
}


def package_units() -> dict[str, str]:
    """``{unit name: text}``: ``schedule install``'s units with the package's first line."""
    schedule = Schedule(EXECUTABLE)
    texts = {SERVICE_NAME: render_service(schedule), TIMER_NAME: render_timer(schedule)}
    header = f"{MARKER}; edits are overwritten."
    for name, text in texts.items():
        first, _, rest = text.partition("\n")
        assert first == header, first
        texts[name] = f"{PACKAGE_HEADER}\n{rest}"
    return texts


def completion_script(shell: str, python: str = sys.executable) -> str:
    """What click's shell completion prints for *shell* when certbot-like is run with
    ``_CERTBOT_LIKE_COMPLETE=<shell>_source``.

    Raises:
        RuntimeError: the run failed or printed nothing.
    """
    instruction = COMPLETIONS[shell][0]
    env = {**os.environ, "_CERTBOT_LIKE_COMPLETE": instruction}
    result = run_cli([], launcher=[python, "-m", "certbot_like.cli.main"], env=env, timeout=60)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"{instruction}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def write_package_files(root: Path, python: str = sys.executable) -> list[Path]:
    """Write the units, man pages and completion files under *root*; the paths written."""
    written: list[Path] = []
    for name, text in package_units().items():
        path = root / UNIT_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    written += write_all(root / "usr/share/man/man1")
    for shell, (_, relative) in COMPLETIONS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(completion_script(shell, python), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_package_files(Path(sys.argv[1])):
        print(written_path)
