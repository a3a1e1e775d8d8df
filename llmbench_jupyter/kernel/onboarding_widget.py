"""The set-up widget at the top of the quickstart: providers, keys, a test request, models.

A newcomer's first hour goes on set-up, so each step says what it found and what to do
next: which providers are chosen and where each one's key would come from; the key form
(the vault's, whose Password field is emptied before anything else happens, so no key is
ever saved with the notebook); one short request through the bench engine to prove the key
and the endpoint work; the endpoint's model list against the config, and the chosen new
models written into the user's config file. The slow steps (a request, a model list) run
in a worker thread, so the kernel stays free and the widget shows "checking…" meanwhile.
"""

from __future__ import annotations

import html
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ipywidgets as w

from llmbench_jupyter.core.config import Config, default_config_path, load_config
from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.redact import redact_url
from llmbench_jupyter.jobs.connection import (
    ENV,
    MISSING,
    NOT_NEEDED,
    VAULT,
    ConnectionCheck,
    KeySource,
    check_connection,
    key_sources,
)
from llmbench_jupyter.jobs.discovery import Discovery, add_models, discover_models
from llmbench_jupyter.kernel.keys_widget import KeysWidget

_OK, _BAD, _BUSY = "#1b5e20", "#b00020", "#555"
_KEY_COLOURS = {MISSING: _BAD, NOT_NEEDED: _BUSY}


def _say(target: w.HTML, text: str, colour: str = _OK) -> None:
    target.value = f'<span style="color:{colour}">{html.escape(text)}</span>'


class OnboardingWidget(w.VBox):
    """Choose providers, store their keys, test one request, discover and add models."""

    def __init__(self, config: Any = None, *, sim_url: str | None = None,
                 chosen: list[str] | None = None) -> None:  # fmt: skip
        if isinstance(config, Config):
            raise LLMBenchError("onboarding: give the config file's path (or None), not a Config")
        self.config_path = default_config_path(config)
        self.sim_url = sim_url
        self.config = load_config(self.config_path)
        self.discovery: Discovery | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="llmbench-onboarding")
        names = list(self.config.providers)
        sources = key_sources(self.config)
        picked = chosen if chosen is not None else [n for n in names if _in_use(
            self.config.providers[n], sources[n])]  # fmt: skip
        self.choices = {n: w.Checkbox(value=n in picked, description=self.config.providers[n].label,
                                      indent=False, layout=w.Layout(width="190px"))
                        for n in names}  # fmt: skip
        for name, box in self.choices.items():
            box.add_class(f"llmbench-onboard-choose-{name}")
            box.observe(lambda _c: self._chosen_changed(), "value")
        self.overview = w.HTML()
        self.key_form = KeysWidget(self.chosen)
        self.key_form.add_class("llmbench-onboard-keys")
        self.key_form.save_button.on_click(lambda _b: self._show_overview())
        self.key_form.delete_button.on_click(lambda _b: self._show_overview())
        self.key_form.provider.observe(lambda _c: self._provider_changed(), "value")
        self.key_form.provider.add_class("llmbench-onboard-provider")
        self.key_form.password.add_class("llmbench-onboard-password")
        self.model = w.Dropdown(description="Model")
        self.model.add_class("llmbench-onboard-model")
        self.test_button = w.Button(description="Test connection", icon="plug")
        self.test_button.add_class("llmbench-onboard-test")
        self.test_status = w.HTML()
        self.test_status.add_class("llmbench-onboard-test-status")
        self.test_button.on_click(lambda _b: self.test_connection())
        self.discover_button = w.Button(description="Discover models", icon="search")
        self.discover_button.add_class("llmbench-onboard-discover")
        self.found = w.SelectMultiple(description="New models", rows=6,
                                      layout=w.Layout(width="520px"))  # fmt: skip
        self.found.add_class("llmbench-onboard-found")
        self.add_button = w.Button(description="Add to config", button_style="primary",
                                   icon="plus", disabled=True)  # fmt: skip
        self.add_button.add_class("llmbench-onboard-add")
        self.models_status = w.HTML()
        self.models_status.add_class("llmbench-onboard-models-status")
        self.discover_button.on_click(lambda _b: self.discover())
        self.add_button.on_click(lambda _b: self.add_selected())
        super().__init__(self._layout())
        self.add_class("llmbench-onboarding")
        self._chosen_changed()

    def _layout(self) -> list[w.Widget]:
        def head(text: str) -> w.HTML:
            return w.HTML(f"<b>{html.escape(text)}</b>")

        grid = w.GridBox(list(self.choices.values()),
                         layout=w.Layout(grid_template_columns="repeat(4, 200px)"))  # fmt: skip
        where = html.escape(_shown(self.config_path))
        return [
            w.HTML(f"<h3>Set up llmbench</h3><small>config: <code>{where}</code></small>"),
            head("1. The providers you use"), grid, self.overview,
            head("2. Their API keys (stored encrypted in your vault, never in the notebook)"),
            self.key_form,
            head("3. One short request to check the key and the endpoint"),
            w.HBox([self.model, self.test_button]), self.test_status,
            head("4. The models the endpoint offers"),
            self.discover_button, self.found, self.add_button, self.models_status,
        ]  # fmt: skip

    def __repr__(self) -> str:
        return f"OnboardingWidget(config={_shown(self.config_path)!r}, chosen={self.chosen})"

    @property
    def chosen(self) -> list[str]:
        return [name for name, box in self.choices.items() if box.value]

    # --- steps ------------------------------------------------------------------------
    def test_connection(self) -> Future[ConnectionCheck | None]:
        """Send one short request to the chosen model; the result shows under the button."""
        provider, model = self.key_form.provider.value, self.model.value
        if not provider or not model:
            _say(self.test_status, "choose a provider with a model first", _BAD)
            return _done(None)
        _say(self.test_status, f"checking {provider}/{model}…", _BUSY)
        self.test_button.disabled = True

        def work() -> ConnectionCheck | None:
            try:
                check = check_connection(provider, model, config=self.config_path,
                                         sim_url=self.sim_url)  # fmt: skip
            except LLMBenchError as exc:
                _say(self.test_status, scrub(str(exc)), _BAD)
                return None
            finally:
                self.test_button.disabled = False
            _say(self.test_status, check.summary(), _OK if check.ok else _BAD)
            self._show_overview()
            return check

        return self._pool.submit(work)

    def discover(self) -> Future[Discovery | None]:
        """Read the chosen provider's model list; its new models become choosable."""
        provider = self.key_form.provider.value
        if not provider:
            _say(self.models_status, "choose a provider first", _BAD)
            return _done(None)
        _say(self.models_status, f"reading {provider}'s model list…", _BUSY)
        self.discover_button.disabled = True

        def work() -> Discovery | None:
            try:
                found = discover_models(provider, config=self.config_path, sim_url=self.sim_url)
            except LLMBenchError as exc:
                _say(self.models_status, scrub(str(exc)), _BAD)
                return None
            finally:
                self.discover_button.disabled = False
            self.discovery = found
            self.found.options = found.new
            self.add_button.disabled = not found.new
            configured = len(found.rows) - len(found.new)
            _say(self.models_status, f"{provider} offers {len(found.listing.models)} models: "
                 f"{len(found.new)} new, {configured} in the config"
                 + ("; choose new ones and press Add" if found.new else ""))  # fmt: skip
            return found

        return self._pool.submit(work)

    def add_selected(self) -> list[str]:
        """Write the chosen new models into the config file (comments and layout kept)."""
        picked, found = list(self.found.value), self.discovery
        if found is None or not picked:
            _say(self.models_status, "discover models and choose some first", _BAD)
            return []
        try:
            added = add_models(found.provider, picked, config=self.config_path, discovery=found)
        except LLMBenchError as exc:
            _say(self.models_status, scrub(str(exc)), _BAD)
            return []
        self.config = load_config(self.config_path)
        self.found.options = [m for m in self.found.options if m not in added]
        self.add_button.disabled = not self.found.options
        _say(self.models_status, f"added {', '.join(added)} to {_shown(self.config_path)}")
        self._show_models()
        self._show_overview()
        return added

    # --- redraws ----------------------------------------------------------------------
    def _chosen_changed(self) -> None:
        current = self.key_form.provider.value
        chosen = self.chosen
        self.key_form.provider.options = chosen
        self.key_form.provider.value = current if current in chosen else (
            chosen[0] if chosen else None)  # fmt: skip
        self._provider_changed()
        self._show_overview()

    def _provider_changed(self) -> None:
        self._show_models()
        self.found.options, self.discovery, self.add_button.disabled = [], None, True

    def _show_models(self) -> None:
        name = self.key_form.provider.value
        prov = self.config.providers.get(name) if name else None
        current = self.model.value
        ids = [m.id for m in prov.models] if prov is not None else []
        self.model.options = ids
        self.model.value = current if current in ids else (ids[0] if ids else None)

    def _show_overview(self) -> None:
        if not self.chosen:
            self.overview.value = "<i>choose at least one provider</i>"
            return
        sources = key_sources(self.config)
        rows = []
        for name in self.chosen:
            prov, src = self.config.providers[name], sources[name]
            where = "built-in simulator" if prov.simulated else redact_url(prov.api_base or "")
            colour = _KEY_COLOURS.get(src.source, _OK)
            rows.append(
                f"<tr><td><b>{html.escape(name)}</b></td><td>{html.escape(where or prov.kind)}</td>"
                f'<td style="color:{colour}" data-provider="{html.escape(name)}">'
                f"{html.escape(src.describe())}</td><td>{len(prov.models)}</td></tr>"
            )
        self.overview.value = (
            '<table class="llmbench-onboard-overview"><tr><th>provider</th><th>endpoint</th>'
            f"<th>key</th><th>models</th></tr>{''.join(rows)}</table>"
        )


def _shown(path: Path) -> str:
    """The config's path as a person reads it: from here, or from home, not from the root."""
    relative = os.path.relpath(path)
    if not relative.startswith(f"..{os.sep}..{os.sep}"):
        return relative
    home = Path.home()
    return f"~{os.sep}{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def _in_use(prov: Any, source: KeySource) -> bool:
    """Chosen at first: the simulator, and providers whose key the user already has."""
    return bool(prov.simulated or source.source == VAULT
                or (source.source == ENV and prov.api_key_env))  # fmt: skip


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def onboarding(config: Any = None, *, sim_url: str | None = None,
               providers: list[str] | None = None) -> OnboardingWidget:  # fmt: skip
    """The set-up widget: choose providers, store keys, test one request, add models.

    ``config``: the config file to read and add models to (default: as everywhere,
    ``$LLMBENCH_CONFIG``, then ``./config.yaml``). ``providers``: those chosen at first
    (default: every provider with a key already, and the built-in simulator).
    """
    return OnboardingWidget(config, sim_url=sim_url, chosen=providers)
