"""The tool's RSA key pair: generated once into the data directory (like the secret key in
server/settings.py), read by every process, published at ``/lti/jwks``. Our client-credential
assertions and Deep Linking responses are signed with it.

The key is read (or made) on first use, and PyJWT and cryptography are imported then: they
cost a process about 8 MiB that a classroom without an LMS never needs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE = "lti_private_key.pem"


class ToolKey:
    """The key in ``path``, read or generated when first needed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def private_key(self) -> rsa.RSAPrivateKey:
        return _read_or_make(self.path)

    @cached_property
    def kid(self) -> str:
        return str(self.public_jwk["kid"])

    @cached_property
    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "n": _b64(public.n),
            "e": _b64(public.e),
        }
        # RFC 7638 thumbprint: the kid changes exactly when the key does.
        canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
        kid = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode()
        jwk["kid"] = kid.rstrip("=")
        return jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        import jwt

        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def load_tool_key(data_dir: Path) -> ToolKey:
    """The key in ``data_dir/lti_private_key.pem``, read or generated on first use."""
    return ToolKey(data_dir / KEY_FILE)


def _read_or_make(path: Path) -> rsa.RSAPrivateKey:
    """Generated when missing (O_EXCL: two processes agree on one key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data_dir = path.parent
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pem = path.read_bytes()
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    loaded = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return loaded
