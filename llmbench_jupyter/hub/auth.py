"""Authenticators that also create the Unix account of a user at first login.

``LocalAuthenticator`` is JupyterHub's mix-in for "a hub user is a system user": its
``add_user`` hook (called at first login, at hub start for known users, and when an
admin adds a user) runs ``add_user_cmd`` when the account is missing. Putting it in
front of NativeAuthenticator (sign-up + admin approval) or an OAuthenticator gives
LocalProcessSpawner a real account to run each server as.

The account is made with a private home (0700), so users cannot read each other's files.
"""

from __future__ import annotations

import os
import re
from typing import Any

from jupyterhub.auth import LocalAuthenticator
from nativeauthenticator import NativeAuthenticator

from llmbench_jupyter.core.errors import LLMBenchError

#: Hub usernames that are also safe Unix account and PostgreSQL role names.
USERNAME_PATTERN = r"^[a-z][a-z0-9_-]{0,30}$"

#: ``useradd`` with a private home and its own group; the name is appended by JupyterHub.
ADD_USER_CMD = ["useradd", "--create-home", "--user-group", "-K", "HOME_MODE=0700"]

#: Values of ``$LLMBENCH_HUB_AUTH`` and the class each one selects.
AUTH_CHOICES = {
    "native": "llmbench_jupyter.hub.auth.LocalNativeAuthenticator",
    "github": "oauthenticator.github.LocalGitHubOAuthenticator",
    "generic": "oauthenticator.generic.LocalGenericOAuthenticator",
}


class HubAuthConfigError(LLMBenchError):
    """The hub's authentication settings are invalid."""


class LocalNativeAuthenticator(LocalAuthenticator, NativeAuthenticator):
    """NativeAuthenticator (sign-up, admin approval) that creates the Unix account too."""


def authenticator_class(choice: str | None = None) -> str:
    """The import path of the authenticator for ``$LLMBENCH_HUB_AUTH`` (default native)."""
    value = (choice if choice is not None else os.environ.get("LLMBENCH_HUB_AUTH", "")).strip()
    value = value.lower() or "native"
    if value not in AUTH_CHOICES:
        raise HubAuthConfigError(
            f"LLMBENCH_HUB_AUTH={value!r}: expected one of {', '.join(AUTH_CHOICES)}"
        )
    return AUTH_CHOICES[value]


def configure_auth(c: Any, admin: str | None, choice: str | None = None) -> str:
    """Set the authenticator options on a JupyterHub config object ``c``; returns the choice.

    Native: sign-up on, approval by an admin, ``admin`` pre-approved when it signs up.
    OAuth: client id/secret/callback come from the provider's usual environment variables
    (``OAUTH_CLIENT_ID``, ``OAUTH_CLIENT_SECRET``, ``OAUTH_CALLBACK_URL``; the generic one
    also ``OAUTH2_AUTHORIZE_URL``, ``OAUTH2_TOKEN_URL``, ``OAUTH2_USERDATA_URL``), and who
    may log in from ``LLMBENCH_HUB_ALLOWED_USERS`` / ``LLMBENCH_HUB_GITHUB_ORGS``.
    """
    cls = authenticator_class(choice)
    value = (choice or os.environ.get("LLMBENCH_HUB_AUTH", "") or "native").strip().lower()
    if admin is not None and not re.match(USERNAME_PATTERN, admin):
        raise HubAuthConfigError(
            f"LLMBENCH_HUB_ADMIN={admin!r}: expected a lower-case name matching "
            f"{USERNAME_PATTERN} (it becomes a Unix account and a database role)"
        )
    c.JupyterHub.authenticator_class = cls
    c.Authenticator.username_pattern = USERNAME_PATTERN
    c.Authenticator.admin_users = {admin} if admin else set()
    c.LocalAuthenticator.create_system_users = True
    c.LocalAuthenticator.add_user_cmd = ADD_USER_CMD
    allowed = _csv(os.environ.get("LLMBENCH_HUB_ALLOWED_USERS", ""))
    if value == "native":
        c.NativeAuthenticator.enable_signup = True
        c.NativeAuthenticator.open_signup = False
        c.NativeAuthenticator.minimum_password_length = 10
        c.NativeAuthenticator.check_common_password = True
        c.NativeAuthenticator.allowed_failed_logins = 5
        c.NativeAuthenticator.seconds_before_next_try = 60
        # Approval is NativeAuthenticator's own gate (unapproved users fail to log in);
        # JupyterHub's allow-list would only duplicate it.
        c.Authenticator.allow_all = True
    else:
        orgs = _csv(os.environ.get("LLMBENCH_HUB_GITHUB_ORGS", ""))
        if value == "github" and orgs:
            c.GitHubOAuthenticator.allowed_organizations = set(orgs)
        if allowed:
            c.Authenticator.allowed_users = set(allowed)
        if not allowed and not orgs:
            raise HubAuthConfigError(
                f"LLMBENCH_HUB_AUTH={value}: set LLMBENCH_HUB_ALLOWED_USERS (comma-separated "
                "logins) or, for github, LLMBENCH_HUB_GITHUB_ORGS: with OAuth nobody is "
                "approved by hand, so the hub needs to know who may log in"
            )
    return value


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
