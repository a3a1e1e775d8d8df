"""The role names of a deployment and its users, their passwords and store URLs.

Pure computation, no database: the hub derives a user's login role and password from
the username and its one secret whenever it needs them, so nothing here is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store.db import parse_url

DEFAULT_PREFIX = "llmbench"
MAX_ROLE_BYTES = 63  # PostgreSQL truncates longer identifiers: we never rely on that
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
_CLEAN_NAME = re.compile(r"^[a-z0-9_]+$")
_HASH_TAIL = re.compile(r"_x[0-9a-f]{16}$")


class ProvisionError(LLMBenchError):
    """Setting up the database or a user's role failed, or found an unsafe state."""


@dataclass(frozen=True)
class Roles:
    """The group role names of one deployment (``prefix`` keeps two hubs on one cluster apart)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX_RE.match(self.prefix):
            raise ProvisionError(
                f"role prefix {self.prefix!r}: expected 1-30 lower-case letters, digits or _, "
                "starting with a letter"
            )

    @property
    def owner(self) -> str:
        return f"{self.prefix}_owner"

    @property
    def user(self) -> str:
        return f"{self.prefix}_user"

    @property
    def admin(self) -> str:
        return f"{self.prefix}_admin"


def role_name(username: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The login role of hub user ``username``: ``<prefix>_u_<username>`` when that is safe.

    Names that are not lower-case ``[a-z0-9_]``, are too long, or end like a hash tail
    are sanitised and get ``_x`` + 16 hex digits of SHA-256 of the original name. A clean
    name never ends in such a tail, so the two forms cannot collide, and distinct
    hashed names differ unless SHA-256 collides on 64 bits chosen by no one.
    """
    head = f"{Roles(prefix).prefix}_u_"
    if not isinstance(username, str) or not username:
        raise ProvisionError(f"username must be a non-empty string, got {username!r}")
    room = MAX_ROLE_BYTES - len(head)
    if _CLEAN_NAME.match(username) and len(username) <= room and not _HASH_TAIL.search(username):
        return head + username
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    readable = re.sub(r"[^a-z0-9]+", "_", username.lower()).strip("_")[: room - 18]
    return f"{head}{readable}_x{digest}"


def derive_password(secret: bytes, username: str) -> str:
    """The database password of ``username``: HMAC-SHA256 of the name under the hub secret.

    The hub keeps one secret and can recompute any user's password, so passwords are
    never stored; a user learns only their own.
    """
    if not isinstance(secret, bytes | bytearray) or len(secret) < 16:
        raise ProvisionError("the hub's password secret must be at least 16 bytes")
    if not isinstance(username, str) or not username:
        raise ProvisionError(f"username must be a non-empty string, got {username!r}")
    mac = hmac.new(bytes(secret), b"llmbench-db-password\x00" + username.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def store_url_for(
    admin_url: str, username: str, secret: bytes, *, prefix: str = DEFAULT_PREFIX
) -> str:
    """The store URL of ``username``: the admin URL's host, port and database, their role."""
    url = parse_url(admin_url)
    user_url = url.set(
        drivername="postgresql+psycopg",
        username=role_name(username, prefix),
        password=derive_password(secret, username),
    )
    return user_url.render_as_string(hide_password=False)
