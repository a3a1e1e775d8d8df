"""A small form to store and delete your API keys from a notebook.

The key travels from the browser to the kernel once, in the Password field's value,
and that trait is emptied as soon as Save reads it, before anything else happens, so a
notebook saved with widget state afterwards holds no key. Messages never quote a key
(the vault's errors do not, and are scrubbed again here).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as w

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.store import keys


def _configured_providers() -> list[str]:
    from llmbench_jupyter.core.config import load_config

    try:
        config = load_config()
    except LLMBenchError:
        return []
    return [name for name, prov in config.providers.items() if not prov.simulated]


class KeysWidget(w.VBox):
    """Provider dropdown, password field, Save / Delete, and your stored providers."""

    def __init__(self, providers: Sequence[str] | None = None) -> None:
        names = list(providers) if providers is not None else _configured_providers()
        self.provider = w.Dropdown(options=names, description="Provider")
        self.password = w.Password(description="API key", placeholder="paste the key")
        self.save_button = w.Button(description="Save", button_style="primary", icon="lock")
        self.delete_button = w.Button(description="Delete", button_style="danger", icon="trash")
        self.status = w.HTML()
        self.stored = w.HTML()
        self.save_button.on_click(lambda _b: self.save())
        self.delete_button.on_click(lambda _b: self.delete())
        super().__init__(
            [
                self.provider,
                self.password,
                w.HBox([self.save_button, self.delete_button]),
                self.status,
                self.stored,
            ]
        )
        self.refresh()

    def __repr__(self) -> str:
        return f"KeysWidget(providers={len(self.provider.options)})"

    def save(self) -> None:
        """Store the typed key for the chosen provider; the field is emptied first."""
        key = self.password.value
        self.password.value = ""
        provider = self.provider.value
        if not provider:
            self._say("choose a provider first", error=True)
            return
        try:
            keys.set(provider, key)
        except LLMBenchError as exc:
            self._say(scrub(str(exc), [key]), error=True)
            return
        finally:
            del key
        self._say(f"saved the key for {provider}")
        self.refresh()

    def delete(self) -> None:
        """Delete the stored key of the chosen provider."""
        provider = self.provider.value
        if not provider:
            self._say("choose a provider first", error=True)
            return
        try:
            keys.delete(provider)
        except LLMBenchError as exc:
            self._say(scrub(str(exc)), error=True)
            return
        self._say(f"deleted the key for {provider}")
        self.refresh()

    def refresh(self) -> None:
        """Redraw the list of stored providers (names and times only)."""
        try:
            rows = keys.list()
        except LLMBenchError as exc:
            self.stored.value = f"<i>cannot list stored keys: {html.escape(scrub(str(exc)))}</i>"
            return
        if not rows:
            self.stored.value = "<i>no stored keys</i>"
            return
        items = "".join(
            f"<li><b>{html.escape(r['provider'])}</b> (updated "
            f"{r['updated_at']:%Y-%m-%d %H:%M} UTC)</li>"
            for r in rows
        )
        self.stored.value = f"Stored keys ({html.escape(rows[0]['backend'])}):<ul>{items}</ul>"

    def _say(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#1b5e20"
        self.status.value = f'<span style="color:{color}">{html.escape(text)}</span>'


def keys_widget(providers: Sequence[str] | None = None) -> KeysWidget:
    """The key form for ``providers`` (default: the non-simulated providers in config.yaml)."""
    return KeysWidget(providers)
