"""Put the test lexicon provider where lexicon looks for providers (test subprocesses only).

A test adds this directory to ``PYTHONPATH`` of the certbot-like process it runs; Python
imports ``sitecustomize`` at start-up, and lexicon's provider discovery (``pkgutil`` over
``lexicon._private.providers.__path__``) then finds ``certbotliketest``.
"""

from pathlib import Path

import lexicon._private.providers as _providers

_providers.__path__.append(str(Path(__file__).resolve().parent.parent / "lexicon_provider"))
