"""What installer plugins share: atomic writes and checkpoints of the files they change.

Plugins may import this package beside :mod:`certbot_like.interfaces` and
:mod:`certbot_like.errors`; its public names are those in ``__all__`` (the submodules are
private).

- :func:`ascii_name` gives a domain name with its internationalised labels as A-labels
  (``bücher.example`` -> ``xn--bcher-kva.example``), the form identifiers have, for names
  a plugin reads from its own options (``webroot_map`` keys).
- :func:`atomic_write` replaces a file through a temporary file in the same directory
  (fsync, rename, fsync of the directory), keeping its mode and owner: a reader sees the old
  or the new content, never a half-written file.
- :class:`Backups` keeps the checkpoints of one plugin under one directory (for example
  ``<work_dir>/nginx-backups``). A :class:`Checkpoint` is one change: each file is copied
  before its first change and each file or link the change creates is recorded, in
  ``manifest.json``, *before* the file is touched, so a change interrupted at any point
  (crash, kill, full disk) can be undone by :meth:`Backups.recover` in the next run.
- :data:`EXTRAS` are the optional extras (:mod:`certbot_like.extras`): a plugin whose
  dependency is one returns ``EXTRAS[name].missing_message()`` from its availability check.

A checkpoint on disk (its directory appears with the first recorded file)::

    <base>/<UTC time>-<kind>/
        manifest.json   version, kind, description, created_at, the writer's pid and
                        process (``pid:start time``), state, and per file: path, whether it
                        existed, backup (the copy), mode, uid, gid, its digest before the
                        change and, once committed, after it
        files/0 ...     the bytes of each saved file before the first change

``state`` is ``open`` while the change is made, then ``committed`` (the target of
``certbot-like rollback``), ``restored``, ``rolled-back``, ``recovered`` (an open change of a
process that died, undone by a later run) or ``restore-failed``. Manifests of version 1,
written by earlier versions of the nginx and Apache plugins, are read too.
"""

from __future__ import annotations

from certbot_like.extras import EXTRAS
from certbot_like.idn import ascii_name
from certbot_like.plugin_kit._atomic import atomic_write
from certbot_like.plugin_kit._checkpoint import Backups, Checkpoint

__all__ = ["EXTRAS", "Backups", "Checkpoint", "ascii_name", "atomic_write"]
