"""A scriptable ACME CA (RFC 8555 + profiles + RFC 9773 ARI) in a thread of the test process.

Pebble cannot misbehave on command, has no profiles, no ARI and sends no ``Retry-After``. This
one can, and with no fault set the client cannot tell it from a real CA: real JWS checks,
single-use nonces, real (or automatic) validation, a real root -> intermediate -> leaf chain.

Start and stop::

    ca = FakeCA(tmp_path).start()          # ... ca.stop()
    with fake_ca(tmp_path, auto_valid=False) as ca: ...
    client = Client(ca, tmp_path)          # tests/integration/conftest.py, as with Pebble

It has Pebble's test surface: ``directory_url``, ``ca_bundle`` (trust for the HTTPS
listener), ``http_port`` / ``tls_port`` (free ports it validates http-01 / tls-alpn-01 on),
``root_pem()`` (issuing root; ``root_pem(1)`` the alternate root) and ``request_lines()``
(``"METHOD /path"`` per request; ``ca.count("/new-order")`` counts POSTs to a path;
``ca.request_log()`` has each with its ``time.monotonic()`` of arrival).

Configuration (keyword arguments of ``FakeCA``/``fake_ca``):

``auto_valid=True``
    challenges turn valid when answered, nobody is contacted. ``False``: real http-01
    (``GET http://127.0.0.1:<http_port>/.well-known/acme-challenge/<token>``), tls-alpn-01
    (``127.0.0.1:<tls_port>``) and dns-01 against ``ca.txt_records[qname] = [values]``.
``validity=timedelta(days=90)``, ``profile_validity={"shortlived": 160 h}``
``profiles={"classic": ..., "shortlived": ...}`` (``{}``: no ``meta.profiles``)
``terms_of_service=URL`` (None: none), ``require_tos=True``
``eab_keys={kid: base64url HMAC key}``, ``eab_required`` (default: ``bool(eab_keys)``)
``alternate_chain=False`` (True: a second chain via ``root_pem(1)``, ``Link: rel=alternate``)
``authz_reuse=False`` (True: valid authorizations of the account are reused, like Boulder)
``ari=True`` (False: no ``renewalInfo`` in the directory), ``blocked_names=("blocked.test",)``

ARI: ``ca.ari_window[cert_id] = (start, end)`` (datetimes, or raw strings to send malformed
ones); certificates without an entry get two thirds to five sixths of their lifetime (a past
window once revoked). ``ca.ari_retry_after = 3600``, ``ca.ari_explanation_url = URL``.
A certificate id is ``base64url(AKI keyIdentifier) + "." + base64url(serial DER bytes)``
(``ari_cert_id(cert)``).

Faults: ``ca.faults`` (:class:`Faults`, every switch documented there). Set an attribute to
apply it to every matching request; ``ca.faults.set(name, value, on={endpoints}, times=N)``
narrows it to endpoints and/or the next N matching requests; ``ca.faults.reset()``::

    ca.faults.token = "../../etc/passwd"           # every challenge token
    ca.faults.foreign_identifier = "evil.test"     # first authz names an unrequested name
    ca.faults.cert_wrong_key = True                # also cert_names, cert_expired,
    ca.faults.chain_private_key = True             #   PRIVATE KEY block after the chain
    ca.faults.set("stall", 5.0, on={"newOrder"}, times=1)
    ca.faults.replay_nonce = ""                    # no Replay-Nonce ("x!" = malformed one)
    ca.faults.bad_nonce_rate = 0.5                 # 1.0: every nonce is rejected
    ca.faults.stuck_processing = True              # or processing_polls = 3
    ca.faults.retry_after = "31536000"             # on order polls and finalize
    ca.faults.rate_limited = "3600"                # newOrder -> 429 rateLimited
    ca.faults.rate_limited_identifier = "a.test"   #   ... only for orders naming a.test
    ca.faults.http_urls = frozenset({"newOrder", "finalize"})
    ca.faults.set("oversized", True, on={"directory"})   # 2 MiB answer
    ca.faults.foreign_origin = listener.origin     # URLs named in foreign_urls point there:
    ca.faults.foreign_urls = frozenset({"order"})  #   the Location of newOrder, here
    ca.faults.set("redirect", "/dir", on={"directory"}, times=1)  # 307 instead of an answer

``RecordingListener(ca.tls, host, port)`` is the other origin: HTTPS with the CA's own
certificate (valid for localhost, 127.0.0.1 and 127.0.0.2), recording every connection.
A signed request's JWS ``url`` is checked against ``https://<Host header><path>``, so the
CA also answers as ``https://localhost:<port>`` (an allowed second origin in tests).

Recordings: ``ca.orders`` (:class:`Order`: ``identifiers``, ``names``, ``profile``,
``replaces``, ``status``, ``payload``; ``ca.new_order_payloads`` also has the refused
ones), ``ca.accounts`` (id -> :class:`Account`),
``ca.certificates`` (:class:`IssuedCert`: ``leaf``, ``serial``, ``ari_id``), ``ca.revoked``
(serial -> reason), ``ca.replaced`` (cert ids; add one to script ``alreadyReplaced``),
``ca.renewal_info_fetches`` (cert ids), ``ca.nonces_rejected``, ``ca.validations``
(``(type, identifier, token)`` per challenge answered), ``ca.errors`` (tracebacks of server
bugs; should stay empty).

Endpoints (``https://127.0.0.1:<port>``): ``/dir``, ``/nonce`` (HEAD 200 / GET 204),
``/new-account``, ``/acct/<id>`` (+ ``/orders``), ``/new-order``, ``/order/<id>``,
``/authz/<id>``, ``/chall/<id>``, ``/finalize/<id>``, ``/cert/<id>`` (``/cert/<id>/1`` the
alternate), ``/renewal-info/<certID>`` (GET), ``/revoke-cert``, ``/key-change``, ``/terms``.

Faithful: the JWS rules of RFC 8555 section 6 (flattened JSON, ``alg`` RS256/ES256/384/512
matching the key, ``url`` equal to the request URL, one-time nonces, ``jwk`` only for
newAccount/revokeCert, ``kid`` a known valid account), problem documents, the order / authz /
challenge state machines, CSR checks at finalize (names equal the order, acceptable key, not
the account key), EAB (7.3.4), key rollover (7.3.5), revocation by account or certificate key
(7.6), ``profile``/``invalidProfile``, ``replaces``/``alreadyReplaced`` and the renewalInfo
resource of RFC 9773. Simplified: no order/authz expiry enforcement, issuance is synchronous
(the order still answers ``processing`` to the finalize), a certificate counts as replaced
once its replacement is finalized, no CRL/OCSP, dns-01 has no real resolver.
"""

from tests.harness.fakeca.faults import ENDPOINTS, OVERSIZED_BYTES, Faults
from tests.harness.fakeca.issuer import ari_cert_id
from tests.harness.fakeca.listener import RecordingListener
from tests.harness.fakeca.model import Account, IssuedCert, Order
from tests.harness.fakeca.server import FakeCA, fake_ca

__all__ = [
    "ENDPOINTS",
    "OVERSIZED_BYTES",
    "Account",
    "FakeCA",
    "Faults",
    "IssuedCert",
    "Order",
    "RecordingListener",
    "ari_cert_id",
    "fake_ca",
]
