"""Debian's Chromium and the launch flags this machine needs (see lessons.md), in one place.

Never Playwright's own browser downloads: they cannot work here.
"""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
