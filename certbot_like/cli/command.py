"""The click classes the subcommands use: cli.ini defaults and plugin flags, and a group
whose subcommand may follow its options.

Plugin flags (``--webroot``, ``-w``, ``--http-01-port`` ...) are generated from the plugin
catalog (:mod:`certbot_like.plugin_catalog`: each plugin's options dataclass, seen without
importing the plugin when the catalog's cache is current) the first time a command's
parameters are needed, so listing commands in ``--help`` does not discover plugins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from certbot_like.cli.config_file import DEFAULT_CLI_INI, default_map_for, find_config_arg
from certbot_like.cli.options import ENV_PREFIX

COMPAT_WANTED = "certbot_like.compat_wanted"  # ctx.meta: option spellings of the command line


def plugin_params() -> list[click.Parameter]:
    """Selection flags (``--standalone`` ...) and option flags of every discovered plugin."""
    from certbot_like.plugin_catalog import catalog

    params: list[click.Parameter] = [
        click.Option(
            ["-a", "--authenticator"],
            metavar="NAME",
            envvar=ENV_PREFIX + "AUTHENTICATOR",
            help="Authenticator plugin (see `certbot-like plugins`).",
        ),
        click.Option(
            ["-i", "--installer"],
            metavar="NAME",
            envvar=ENV_PREFIX + "INSTALLER",
            help="Installer plugin.",
        ),
        click.Option(
            ["--configurator"],
            metavar="NAME",
            envvar=ENV_PREFIX + "CONFIGURATOR",
            help="Plugin used as both authenticator and installer (certbot's old name).",
        ),
    ]
    seen: set[str] = {"authenticator", "installer", "configurator"}
    for name, info in sorted(catalog().items()):
        dest = "plugin_" + name.replace("-", "_")
        roles = " and ".join(
            r
            for r, on in (("authenticator", info.authenticator), ("installer", info.installer))
            if on
        )
        params.append(
            click.Option(
                [f"--{name}", dest],
                is_flag=True,
                help=f"Use the {name} plugin as {roles}: {info.description}",
            )
        )
        for flag in info.flags:
            if flag.name in seen or not flag.flags:
                continue
            seen.add(flag.name)
            attrs: dict[str, Any] = {
                "help": flag.help,
                "hidden": flag.hidden,
                "envvar": ENV_PREFIX + flag.name.upper(),
                "metavar": flag.metavar,
            }
            if flag.base == "bool":
                attrs["is_flag"] = True
            elif flag.base == "tuple":
                attrs["multiple"] = True
            elif flag.base == "int":
                attrs["type"] = int
            elif flag.base == "float":
                attrs["type"] = float
            if flag.choices:
                attrs["type"] = click.Choice(list(flag.choices))
            if flag.base not in ("tuple", "dict", "bool") and flag.default is not None:
                attrs["default"] = flag.default
                attrs["show_default"] = True
            params.append(click.Option([*flag.flags, flag.name], **attrs))
    return params


class CompatCommand(click.Command):
    """A subcommand reading cli.ini into its defaults; optionally with plugin flags."""

    def __init__(self, *args: Any, with_plugins: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.with_plugins = with_plugins
        self._declared: set[str] | None = None
        self._compat: dict[str, click.Parameter] = {}

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The command's own options, its plugin flags, then the other certbot options
        (hidden: accepted and ignored, or refused; see :mod:`certbot_like.cli.certbot_flags`):
        all of them, or only those the command line spells once :meth:`parse_args` has
        seen it (``ctx.meta[COMPAT_WANTED]``)."""
        from certbot_like.cli.certbot_flags import compat_params

        if self._declared is None:
            extra = plugin_params() if self.with_plugins else []
            self.params.extend(extra)
            declared = {o for p in self.params for o in [*p.opts, *p.secondary_opts]}
            declared.update(self.get_help_option_names(ctx))
            self._declared = declared
        own = super().get_params(ctx)
        return [*own, *compat_params(self._declared, ctx.meta.get(COMPAT_WANTED), self._compat)]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["raw_args"] = list(args)
        if not any(a in ("--help", "-h") for a in args):
            explicit = find_config_arg(args)
            env_path = os.environ.get(ENV_PREFIX + "CONFIG_FILE")
            path = explicit or (Path(env_path) if env_path else DEFAULT_CLI_INI)
            if explicit is None and not env_path and not path.exists():
                from certbot_like.cli.certbot_flags import option_words

                # No cli.ini: the command line alone can name a certbot option.
                ctx.meta[COMPAT_WANTED] = option_words(args)
            defaults = default_map_for(self, ctx, path, explicit is not None or bool(env_path))
            if defaults:
                ctx.default_map = {**(ctx.default_map or {}), **defaults}
        return super().parse_args(ctx, long_spellings(self.get_params(ctx), args))


def long_spellings(params: list[click.Parameter], args: list[str]) -> list[str]:
    """*args* with each short option given alone (``-n``, ``-d NAME``) in its long spelling.

    click's parser tries every word as a long option first, and for a short one builds a
    "no such option" error with close-match suggestions over every option the command has
    before it falls back to the short options: more work than the rest of parsing a command
    line. Values are left as they are (the word after an option that takes one), as is
    everything after ``--``, grouped short options (``-nq``), unknown words and an option
    missing its value (click's error then names it as it was typed).
    """
    longs: dict[str, str] = {}
    takes_value: set[str] = set()
    for param in params:
        if not isinstance(param, click.Option):
            continue
        long = next((o for o in param.opts if o.startswith("--")), None)
        if not param.is_flag and not param.count:
            takes_value.update(param.opts)
        if long is not None:
            longs.update((o, long) for o in param.opts if len(o) == 2)
    out: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return [*out, *args[index:]]
        if arg in takes_value:
            if index + 1 == len(args):  # no value: click's error names what was typed
                return [*out, arg]
            out += [longs.get(arg, arg), args[index + 1]]
            index += 2
            continue
        out.append(longs.get(arg, arg))
        index += 1
    return out


class SubcommandGroup(click.Group):
    """A group whose subcommand may come after its options, as every certbot-like command's
    options may (``certbot-like account --config-dir X rollover``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._subcommand_first(ctx, args))

    def _subcommand_first(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value: set[str] = set()
        for command in self.commands.values():
            for param in command.get_params(ctx):
                if isinstance(param, click.Option) and not param.is_flag and not param.count:
                    takes_value.update(param.opts)
        index = 0
        while index < len(args):
            arg = args[index]
            if arg == "--" or arg in ("-h", "--help"):
                return args
            if arg in self.commands:
                return [arg, *args[:index], *args[index + 1 :]]
            index += 2 if arg in takes_value else 1
        return args
