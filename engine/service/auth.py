"""Who may call the service: bearer tokens, Shopify's webhook signature, commercetools' header.

Every secret is a list, so that one can be rotated: a new one is added, the
callers move to it, the old one is removed. Comparisons are constant-time
(:func:`hmac.compare_digest`) and every configured secret is compared, so
the time taken says nothing about which one nearly matched.

=====================  ==============================  ===========================================
environment variable   guards                          the caller sends
=====================  ==============================  ===========================================
``SOURCEWISE_TOKEN``   ``/v1/...``                     ``Authorization: Bearer <token>``
``SHOPIFY_SECRET``     ``/webhooks/shopify/...``       ``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256
                                                       of the raw body with the app's secret
``CT_AUTH``            ``/extensions/commercetools``   ``Authorization: <the header value configured
                                                       in the API Extension's AuthorizationHeader>``
``MAGENTO_TOKEN``      ``/magento/...``                ``Authorization: Bearer <token>``
=====================  ==============================  ===========================================

Each variable (prefixed ``SOURCEWISE_`` except the first, e.g.
``SOURCEWISE_SHOPIFY_SECRET``) holds one secret or several separated by
commas. A group with no secret configured refuses every request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ENV", "Secrets", "bearer_ok", "header_ok", "shopify_ok"]

ENV = {
    "api": "SOURCEWISE_TOKEN",
    "shopify": "SOURCEWISE_SHOPIFY_SECRET",
    "commercetools": "SOURCEWISE_CT_AUTH",
    "magento": "SOURCEWISE_MAGENTO_TOKEN",
}
"""The environment variable of each group's secrets."""


def _split(value: str | None) -> tuple[bytes, ...]:
    return tuple(s.strip().encode() for s in (value or "").split(",") if s.strip())


@dataclass(frozen=True)
class Secrets:
    """The configured secrets of every group (each a tuple; empty refuses everything)."""

    api: tuple[bytes, ...] = ()
    shopify: tuple[bytes, ...] = ()
    commercetools: tuple[bytes, ...] = ()
    magento: tuple[bytes, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        """Read every group's secrets from the environment (see :data:`ENV`)."""
        env = os.environ if env is None else env
        return cls(**{group: _split(env.get(var)) for group, var in ENV.items()})


def _any_equal(given: bytes, allowed: tuple[bytes, ...]) -> bool:
    """Whether ``given`` equals one of ``allowed``, comparing with every one in constant time."""
    ok = False
    for secret in allowed:
        ok |= hmac.compare_digest(given, secret)
    return ok and bool(allowed)


def header_ok(value: str | None, allowed: tuple[bytes, ...]) -> bool:
    """Whether a header's whole value is one of ``allowed`` (commercetools' AuthorizationHeader)."""
    if value is None or not allowed:
        return False
    return _any_equal(value.encode("latin-1", "replace"), allowed)


def bearer_ok(authorization: str | None, allowed: tuple[bytes, ...]) -> bool:
    """Whether ``Authorization: Bearer <token>`` carries one of ``allowed``."""
    if authorization is None or not allowed:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return _any_equal(token.strip().encode("latin-1", "replace"), allowed)


def shopify_ok(body: bytes, signature: str | None, secrets: tuple[bytes, ...]) -> bool:
    """Whether ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body under one of ``secrets``."""
    if signature is None or not secrets:
        return False
    given = signature.strip().encode("latin-1", "replace")
    ok = False
    for secret in secrets:
        expected = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest())
        ok |= hmac.compare_digest(given, expected)
    return ok


def shopify_signature(body: bytes, secret: str) -> str:
    """The ``X-Shopify-Hmac-Sha256`` value Shopify sends for ``body`` (for tests and tools)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
