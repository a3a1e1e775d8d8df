"""The team config a newcomer starts from in the onboarding tests (kernel and browser): a
gateway that needs a key nobody has saved yet, beside the built-in simulator."""

from __future__ import annotations

TEAM_CONFIG = """# the team's config: this comment stays
providers:
  team:
    display_name: Team gateway
    kind: openai
    api_base: {base}
    api_key_env: {key_env}
    timeout_s: {timeout_s}
    models:
      - id: sim-fast   # the one we use
  local-sim:
    kind: openai
    simulated: true
    api_base: http://127.0.0.1:9/v1
    api_key: sim
    models:
      - id: sim-fast
"""


def team_config(base: str, key_env: str, timeout_s: int = 10) -> str:
    """The config text, its gateway at ``base``; ``key_env`` must be unset in the test."""
    return TEAM_CONFIG.format(base=base, key_env=key_env, timeout_s=timeout_s)
