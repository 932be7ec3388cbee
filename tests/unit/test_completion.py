"""`certbot-like completion SHELL`: the scripts, and completions a shell gets back."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.harness.clirun import run_cli

BIN = Path(sys.executable).parent  # the venv's bin/, where the certbot-like script is


def complete(shell: str, words: str, cword: int) -> list[str]:
    """What certbot-like answers a *shell* completion request (click's protocol)."""
    env = {**os.environ, "_CERTBOT_LIKE_COMPLETE": f"{shell}_complete"}
    if shell == "fish":
        env |= {"COMP_WORDS": words, "COMP_CWORD": words.rsplit(maxsplit=1)[-1] if cword else ""}
    else:
        env |= {"COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = run_cli([], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _certbot_like_completion certbot-like"),
        ("zsh", "#compdef certbot-like"),
        ("fish", "complete --no-files --command certbot-like"),
    ],
)
def test_the_script_for_each_shell(shell: str, marker: str) -> None:
    result = run_cli(["completion", shell])
    assert result.returncode == 0, result.stderr
    assert marker in result.stdout
    assert "_CERTBOT_LIKE_COMPLETE=" in result.stdout


def test_an_unknown_shell_is_one_line_and_exit_2() -> None:
    result = run_cli(["completion", "tcsh"])
    assert result.returncode == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr


def bash_completions(*words: str) -> list[str]:
    """COMPREPLY after sourcing the bash script in a real bash and completing *words*."""
    quoted = " ".join(f"'{w}'" for w in words)
    script = (
        "source <(certbot-like completion bash)\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_certbot_like_completion certbot-like\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = run_cli([], launcher=["bash", "-c", script], env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_choices() -> None:
    assert bash_completions("certbot-like", "cert") == ["certonly", "certificates"]
    assert bash_completions("certbot-like", "renew", "--no-ran") == ["--no-random-sleep-on-renew"]
    assert bash_completions("certbot-like", "obtain", "--key-type", "") == ["ecdsa", "rsa"]
    assert bash_completions("certbot-like", "completion", "") == ["bash", "zsh", "fish"]


def test_zsh_and_fish_requests_are_answered() -> None:
    zsh = complete("zsh", "certbot-like revo", 1)
    assert zsh == ["plain", "revoke", "Revoke a certificate."]
    fish = complete("fish", "certbot-like revoke --reas", 1)
    assert fish[0].startswith("plain,--reason")
