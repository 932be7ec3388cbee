"""cli.ini: certbot's config file, read with configobj into click's ``default_map``.

Keys are long option names without the dashes (``rsa-key-size = 4096``,
``authenticator = webroot``, ``agree-tos = True``). Options certbot knows that have no
meaning here are accepted and ignored; anything else is an error naming the line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import click

from certbot_like.cli.certbot_flags import COMPAT_PREFIX, refused_flag
from certbot_like.errors import ConfigError

logger = logging.getLogger(__name__)
DEFAULT_CLI_INI = Path("/etc/letsencrypt/cli.ini")
CERTBOT_ONLY_KEYS = {
    "eff-email",
    "no-eff-email",
    "keep-until-expiring",
    "keep",
    "text",
    "no-self-upgrade",
    "no-bootstrap",
    "uir",
    "no-uir",
    "staple-ocsp",
    "no-staple-ocsp",
    "strict-permissions",
    "autorenew",
    "no-autorenew",
    "preconfigured-renewal",
    "renew-with-new-domains",
    "allow-subset-of-names",
    "duplicate",
    "os-packages-only",
    "debug",
    "debug-challenges",
    "disable-renew-updates",
    "no-directory-hooks",
    "agree-dev-preview",
    "hsts",
    "no-hsts",
    "redirect",
    "no-redirect",
    "manual-public-ip-logging-ok",
    "user-agent-comment",
    "random-sleep-on-renew",
    "no-random-sleep-on-renew",
}
# A cli.ini value as configobj reads it (``a, b`` is a list), and what it becomes in click's
# ``default_map`` (a flag's bool, a count's int, a multiple option's list, else the text).
IniValue = str | list[str]
DefaultValue = bool | int | str | list[str]

_TRUE = {"true", "yes", "on", "1", ""}
_FALSE = {"false", "no", "off", "0"}


def find_config_arg(args: Iterable[str]) -> Path | None:
    """The ``-c/--config`` value in raw arguments (it may follow the subcommand)."""
    items = list(args)
    for index, arg in enumerate(items):
        if arg in ("-c", "--config") and index + 1 < len(items):
            return Path(items[index + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
        if arg.startswith("-c") and len(arg) > 2 and not arg.startswith("--"):
            return Path(arg[2:])
    return None


def read_cli_ini(path: Path) -> dict[str, IniValue]:
    """The key/value pairs of a cli.ini file.

    Raises:
        ConfigError: unreadable or not INI syntax.
    """
    import configobj

    try:
        obj = configobj.ConfigObj(
            str(path), encoding="utf-8", file_error=True, interpolation=False, list_values=True
        )
    except OSError as exc:
        raise ConfigError(
            f"Cannot read config file {path}: {exc.strerror or exc}",
            "Check the path given to -c/--config",
        ) from None
    except (configobj.ConfigObjError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"Config file {path} is not valid: {first}", "Write one 'option = value' per line"
        ) from None
    return {str(k): v for k, v in obj.items() if not hasattr(v, "items")}


def _convert(
    param: click.Parameter, key: str, value: IniValue, path: Path, negated: bool = False
) -> DefaultValue:
    """The ``default_map`` value for *param* from the cli.ini line ``key = value``.

    *negated* is True when *key* is the ``--no-...`` half of an ``--x/--no-x`` flag.

    Raises:
        ConfigError: a flag's value is not a truth word, a count's not a number or truth word.
    """
    if isinstance(param, click.Option) and param.is_flag and not param.count:
        word = str(value).strip().lower()
        if word in _TRUE:
            return not negated
        if word in _FALSE:
            return negated
        raise ConfigError(
            f"{path}: {key} must be true or false, not {value!r}", f"Write '{key} = True'"
        )
    if isinstance(param, click.Option) and param.count:
        word = str(value).strip().lower()
        if word.isascii() and word.isdigit():
            return int(word)
        if word in _TRUE or word in _FALSE:
            return int(word in _TRUE)
        raise ConfigError(
            f"{path}: {key} must be a number or true/false, not {value!r}", f"Write '{key} = 1'"
        )
    if param.multiple or param.nargs != 1:
        items = value if isinstance(value, list) else [value]
        return [str(i).strip() for i in items if str(i).strip()]
    if isinstance(value, list):
        return ",".join(value)
    return value


def default_map_for(
    command: click.Command, ctx: click.Context, path: Path, explicit: bool
) -> dict[str, DefaultValue]:
    """Translate cli.ini at *path* into ``default_map`` values for *command*.

    Raises:
        ConfigError: unreadable file, or a key no certbot-like or certbot option has.
    """
    if not path.exists():
        if explicit:
            raise ConfigError(f"Config file {path} does not exist", "Check -c/--config")
        return {}
    values = read_cli_ini(path)
    by_name: dict[str, tuple[click.Parameter, bool]] = {}
    for param in command.get_params(ctx):
        for decl in param.opts:
            if decl.startswith("--"):
                by_name[decl[2:]] = (param, False)
        for decl in param.secondary_opts:  # --no-x of an --x/--no-x flag
            if decl.startswith("--"):
                by_name[decl[2:]] = (param, True)
    out: dict[str, DefaultValue] = {}
    for key, value in values.items():
        normal = key.strip().replace("_", "-")
        found, negated = by_name.get(normal, (None, False))
        if found is None:
            if normal in CERTBOT_ONLY_KEYS:
                logger.debug("cli.ini: %s has no effect in certbot-like", key)
                continue
            if any(normal == n for n in _all_known_names()):
                continue  # an option of another subcommand
            raise ConfigError(
                f"{path}: unknown option {key!r}",
                "Remove the line or fix its spelling (see `certbot-like COMMAND --help`)",
            )
        assert found.name is not None
        converted = _convert(found, key, value, path, negated)
        _refuse(found, key, converted, path)
        try:
            found.type_cast_value(ctx, converted)
        except click.BadParameter as exc:
            raise ConfigError(
                f"{path}: {key} = {value!r} is not valid: {exc.message}", f"Fix the '{key}' line"
            ) from None
        out[found.name] = converted
    return out


def _refuse(param: click.Parameter, key: str, value: DefaultValue, path: Path) -> None:
    """Stop at a cli.ini line that turns on a certbot flag certbot-like refuses.

    Raises:
        ConfigError: *key* is such a flag (``must-staple = True``).
    """
    refused = refused_flag(param.opts) if value else None
    if refused is not None and (param.name or "").startswith(COMPAT_PREFIX):
        raise ConfigError(
            f"{path}: {key}: {refused.name} is not supported: {refused.note}", refused.hint
        )


def _all_known_names() -> set[str]:
    """Long option names of every command, for cli.ini files shared by all subcommands."""
    from certbot_like.cli.main import cli

    names: set[str] = set()
    # the root's settings (``-h``): click caches each command's help option on first use
    ctx = click.Context(cli, **cli.context_settings)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if command is None:
            continue
        for param in command.get_params(click.Context(command, parent=ctx)):
            names.update(d[2:] for d in [*param.opts, *param.secondary_opts] if d.startswith("--"))
    return names
