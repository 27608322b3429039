"""API keys: generation, hashing and scope rules. Only the hash is ever stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCOPES = ("read", "write", "admin")
KEY_PREFIX = "li_"


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown once
    prefix: str  # stored and shown in listings, identifies the key to a person
    key_hash: str


def generate_key() -> NewKey:
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key=key, prefix=prefix, key_hash=hash_key(key))


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and 20 < len(key) < 200


def parse_scopes(text: str) -> tuple[str, ...]:
    """`read,write` -> ('read', 'write'); raises ValueError naming the unknown scope."""
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not scopes:
        raise ValueError("give at least one scope: read, write or admin")
    for scope in scopes:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: use read, write or admin")
    return scopes


def grants(scopes: frozenset[str], needed: str) -> bool:
    """admin implies write implies read."""
    if "admin" in scopes:
        return True
    if needed == "read":
        return bool(scopes & {"read", "write"})
    return needed in scopes


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
