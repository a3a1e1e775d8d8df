"""The benchmark configuration: providers, their models and run defaults, loaded from YAML.

Validation is strict (unknown keys and wrong types are errors, no silent coercion of
``"123"`` into ``123``) because a typo in a config file otherwise turns into a
benchmark that quietly measured something else. Every problem in a file is reported
at once, one line each, with the file, the dotted key path, what was found and what
was expected; API key values are never echoed.
"""

from llmbench_jupyter.core.config._loader import (
    ENV_VAR,
    default_config_path,
    load_config,
    parse_config,
)
from llmbench_jupyter.core.config._model import (
    Config,
    ConfigError,
    Defaults,
    ModelConfig,
    ProviderConfig,
    fill_template,
)

__all__ = [
    "ENV_VAR",
    "Config",
    "ConfigError",
    "Defaults",
    "ModelConfig",
    "ProviderConfig",
    "default_config_path",
    "fill_template",
    "load_config",
    "parse_config",
]
