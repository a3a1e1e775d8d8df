"""Shared pieces of the hostile-endpoint tests: keys of many shapes and a config that
points a provider at the test's own simulated endpoint with hostile models."""

from __future__ import annotations

from pathlib import Path

import yaml

#: One key of each shape we know, and one with no known prefix (found only by exact value).
KEYS = {
    "openai": "sk-proj-Ab3De6Gh9Jk2Mn5Pq8St1Vw4Yz7Bc0Ef",
    "openai-legacy": "sk-Tq4Wz8Xc2Vb6Nm1Lk5Jh9Gf3Ds7Ap0",
    "anthropic": "sk-ant-api03-Hh7Jj2Kk9Ll4Mm1Nn6Oo3Pp8Qq5Rr0",
    "openrouter": "sk-or-v1-c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8",
    "google": "AIzaSyB3xQ9mK2nL7pR4tV8wZ1cF6hJ0dG5sY",
    "groq": "gsk_Qw2Er4Ty6Ui8Op0As1Df3Gh5Jk7",
    "xai": "xai-Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1",
    "huggingface": "hf_Pl0Ok9Ij8Uh7Yg6Tf5Rd4Es3Wa2",
    "perplexity": "pplx-Mn4Bv6Cx8Zl0Kj2Hg4Fd6Sa8Qw",
    "nvidia": "nvapi-Ty5Ur7Ie9Ow1Pq3As5Dd7Ff9Gg",
    "replicate": "r8_Hj3Kl5Zx7Cv9Bn1Mq3We5Rt7Yu",
    "github": "ghp_Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0",
    "no-prefix": "Zq7vKp2LmN9xR4tY8wB3cD6fG1hJ5kS0",
}


def fragments(secret: str, size: int = 8) -> list[str]:
    """Every ``size``-character piece of ``secret``: a cut key still leaks its pieces."""
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def leaked(text: str, secrets: list[str] | tuple[str, ...]) -> list[str]:
    """The secrets of which any 8-character piece appears in ``text``."""
    return [s for s in secrets if any(f in text for f in fragments(s))]


def hostile_config(
    tmp_path: Path,
    base_url: str,
    models: list[str],
    more: dict[str, dict[str, object]] | None = None,
    **provider: object,
) -> Path:
    """A config whose provider ``hostile`` serves ``models`` from the test's sim.

    ``more``: further providers by name, each a mapping of provider keys.
    """
    providers = {"hostile": {"api_base": base_url, "models": [{"id": m} for m in models]}}
    providers["hostile"].update(provider)
    providers.update(more or {})
    data = {"version": 1, "providers": providers}
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
