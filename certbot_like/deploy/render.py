"""The bytes of each deploy format, and whether a file already holds them.

Imported only when something is deployed (cryptography is loaded then, not at start-up).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PrivateFormat,
    PublicFormat,
    pkcs12,
)

from certbot_like.crypto.certs import split_pem_certificates
from certbot_like.crypto.keys import load_private_key
from certbot_like.deploy.spec import DeployTarget
from certbot_like.errors import ConfigError
from certbot_like.storage.store import CertFiles


def read_password(path: str | None) -> bytes:
    """The PKCS#12 password: the first line of *path* (registered as a secret).

    Raises:
        ConfigError: no file given, or it cannot be read, or it is empty.
    """
    from certbot_like.logs import register_secret

    if not path:
        raise ConfigError(
            "A pkcs12 deploy target has no password file",
            "Pass --pkcs12-password-file FILE",
        )
    try:
        with open(path, "rb") as handle:
            line = handle.readline(4096).rstrip(b"\r\n")
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the PKCS#12 password file {path}: {exc.strerror}",
            "Create it (one line, mode 0600) or fix --pkcs12-password-file",
        ) from None
    if not line:
        raise ConfigError(f"The PKCS#12 password file {path} is empty", "Write the password in it")
    register_secret(line.decode("utf-8", "replace"))
    return line


def render(
    target: DeployTarget, files: CertFiles, *, password: bytes = b"", legacy: bool = False
) -> bytes:
    """The content of *target* for the lineage version *files*.

    Raises:
        ConfigError: the stored key or certificate cannot be parsed.
    """
    fmt = target.format
    if fmt in ("fullchain", "cert", "chain"):
        return files.by_kind()[fmt]
    if fmt == "key":
        return files.privkey
    if fmt == "combined":  # HAProxy, Lighttpd, ZNC: the key, then the full chain
        return files.privkey.rstrip(b"\n") + b"\n" + files.fullchain
    if fmt == "der":
        return _leaf(files).public_bytes(Encoding.DER)
    return _pkcs12(files, password, legacy)


def up_to_date(target: DeployTarget, current: bytes, files: CertFiles, *, password: bytes) -> bool:
    """Whether *current* (the file's bytes) holds what :func:`render` would write now.

    PKCS#12 files are encrypted with a random salt, so they are compared by what they hold.
    """
    if target.format != "pkcs12":
        return current == render(target, files)
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(current, password)
    except ValueError:
        return False
    if key is None or cert is None:
        return False
    ours = load_private_key(files.privkey, "the lineage key").public_key()
    return (
        cert == _leaf(files)
        and key.public_key().public_bytes(Encoding.DER, _SPKI)
        == ours.public_bytes(Encoding.DER, _SPKI)
        and list(extra) == _chain(files)
    )


def _leaf(files: CertFiles) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(files.cert)
    except ValueError:
        raise ConfigError("The lineage's cert.pem does not parse", "Renew it") from None


def _chain(files: CertFiles) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(b) for b in split_pem_certificates(files.chain)]


def _pkcs12(files: CertFiles, password: bytes, legacy: bool) -> bytes:
    key = load_private_key(files.privkey, "the lineage key")
    builder = PrivateFormat.PKCS12.encryption_builder()
    if legacy:  # old Java keytool and Windows before 2019 read only this
        builder = (
            builder.kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())  # noqa: S303 - what those readers support
        )
    else:
        builder = (
            builder.kdf_rounds(50000)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
        )
    return pkcs12.serialize_key_and_certificates(
        name=None,
        key=key,
        cert=_leaf(files),
        cas=_chain(files),
        encryption_algorithm=builder.build(password),
    )


_SPKI = PublicFormat.SubjectPublicKeyInfo
