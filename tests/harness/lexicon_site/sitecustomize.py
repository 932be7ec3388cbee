"""Test-only start-up code of the certbot-like processes the lexicon tests run.

A test adds this directory to ``PYTHONPATH`` of the certbot-like process it runs; Python
imports ``sitecustomize`` at start-up. It

- puts the test lexicon provider where lexicon looks for providers: lexicon's provider
  discovery (``pkgutil`` over ``lexicon._private.providers.__path__``) then finds
  ``certbotliketest``;
- when ``CERTBOT_LIKE_TEST_PROVIDER_API`` is set (``http://127.0.0.1:PORT``), sends the
  requests that lexicon's real providers make to the APIs of Cloudflare, DigitalOcean and
  DNSimple to the fake APIs of :mod:`tests.harness.provider_apis` instead, the original host
  in an ``X-Fake-Host`` header. Nothing else is changed: the provider code, lexicon and
  requests run as in production up to the socket.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import lexicon._private.providers as _providers

_providers.__path__.append(str(Path(__file__).resolve().parent.parent / "lexicon_provider"))

_FAKE = os.environ.get("CERTBOT_LIKE_TEST_PROVIDER_API")
_HOSTS = ("api.cloudflare.com", "api.digitalocean.com", "api.dnsimple.com")

if _FAKE:
    import requests.adapters

    _send = requests.adapters.HTTPAdapter.send

    def _redirected(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        url = urlsplit(request.url)
        if url.hostname in _HOSTS:
            request.headers["X-Fake-Host"] = url.hostname
            request.url = _FAKE + url.path + (f"?{url.query}" if url.query else "")
        return _send(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = _redirected  # type: ignore[method-assign]
