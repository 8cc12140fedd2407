"""Where the config files are, how they are read, and the one error a bad setting raises.

Every file is validated by a pydantic model (`validate_document`); what is wrong comes
back as a `ConfigError` naming the file and the key path (`describe_validation_error`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.settings.environment import read_environment
from pipelines.settings.errors import ConfigError, describe_validation_error

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "config"

Document = TypeVar("Document", bound=BaseModel)

# libyaml's parser where PyYAML was built with it: the route catalogue parses in ~1 ms
# instead of ~7.5 (every sync reads it), with the same safe constructors.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The config folder: $TAMPUURI_CONFIG_DIR, else the project's `config/`."""
    return read_environment(environ).config_dir or CONFIG_DIR


def config_file(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """A config file by name (`sync.yaml`) in the config folder (`config_dir`)."""
    return config_dir(environ) / name


def read_yaml(path: Path) -> Any:
    """Parse a YAML config file, naming the file on any error."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a file") from None
    except yaml.YAMLError as exc:
        # PyYAML's message quotes the offending line: it could be a secret written inline.
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "a syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None


def validate_document(
    model: type[Document],
    raw: Any,
    source: str | Path,
    *,
    context: Mapping[str, Any] | None = None,
    key: Callable[[tuple[int | str, ...]], str] | None = None,
) -> Document:
    """Validate a parsed document against its model; any problem is one ConfigError.

    Raises:
        ConfigError: "<source>: <key path>: <problem>" for each problem found.
    """
    try:
        return model.model_validate(raw, context=dict(context or {}))
    except ValidationError as exc:
        raise describe_validation_error(str(source), exc, key=key, model=model) from None
