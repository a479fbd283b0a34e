"""Configuration: defaults, then environment, then explicit overrides, in that order.

Nothing here runs at import time; each server's ``create_app`` calls :func:`load_config`.
A key ``PORT`` of a server whose prefix is ``THEME_CLASSIFICATION`` is read from
``THEME_CLASSIFICATION_PORT`` first, then from the suite-wide ``THEME_API_PORT``.
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from shared.errors import ApiError

logger = logging.getLogger(__name__)

SUITE_PREFIX = "THEME_API"
# Bare names a shell sets for its own use (zsh's HOST): never taken for a misplaced setting.
_SHELL_NAMES = frozenset({"HOST"})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting is unusable: not of its default's type, out of its bounds, or naming what cannot be read."""


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Loading what a setting names (``what``: ``"KEY=value"``, or which file of it): a missing file, or
    a theme list that cannot be used, is a :class:`ConfigError` saying what and why."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ConfigError(f"{what}: {exc.strerror if exc.filename else exc}") from None
    except ApiError as exc:  # a theme list refused as an upload would be
        raise ConfigError(f"{what}: {exc.body.get('error', exc.body)}") from None


def _coerce(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"{key}={raw!r}: expected one of {sorted(_TRUE | _FALSE)}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r}: expected an integer") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r}: expected a number") from None
    return raw


Bounds = Mapping[str, tuple[float | None, float | None]]  # setting -> (lowest, highest) allowed, None: open
# The bounds of the serving settings every server has.
SERVING_BOUNDS: Bounds = {"PORT": (1, 65535), "MAX_UPLOAD_BYTES": (1, None), "CLIENT_TIMEOUT": (0, None),
                          "LOG_RESPONSE_MAX_CHARS": (0, None)}


def load_config(
    defaults: Mapping[str, Any],
    prefix: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    bounds: Bounds | None = None,
) -> dict[str, Any]:
    """Merge ``defaults`` <- environment (``PREFIX_KEY``, then ``THEME_API_KEY``) <- ``overrides``; a
    number outside its ``bounds`` is a :class:`ConfigError` naming the setting."""
    env = os.environ if environ is None else environ
    config = dict(defaults)
    for key, default in defaults.items():
        for name in (f"{prefix}_{key}", f"{SUITE_PREFIX}_{key}"):
            if name in env:
                config[key] = _coerce(name, env[name], default)
                break
    config.update(overrides or {})
    for key, (low, high) in (bounds or {}).items():
        value = config[key]
        if not math.isfinite(value):  # nan passes every comparison
            raise ConfigError(f"{prefix}_{key}={value!r}: must be a finite number")
        if (low is not None and value < low) or (high is not None and value > high):
            allowed = (f"between {low:g} and {high:g}" if low is not None and high is not None
                       else f"at least {low:g}" if low is not None else f"at most {high:g}")
            raise ConfigError(f"{prefix}_{key}={value!r}: must be {allowed}")
    return config


def warn_unread_environment(defaults: Mapping[str, Any], prefix: str,
                            environ: Mapping[str, str] | None = None) -> list[str]:
    """Settings of this server set in the environment under their bare name (``API_KEY``, ``PORT``), which
    is not read: log a warning for each, naming what is read instead (an ``API_KEY`` that silently did
    nothing would leave the server open); and names with this server's prefix that are no setting of
    it (``THEME_GENERATION_BATCHSIZE``). Returns those names."""
    env = os.environ if environ is None else environ
    unread = [key for key in defaults if key in env and key not in _SHELL_NAMES
              and f"{prefix}_{key}" not in env and f"{SUITE_PREFIX}_{key}" not in env]
    for key in unread:
        logger.warning("%s is set in the environment but not read: this server reads %s_%s (or %s_%s)",
                       key, prefix, key, SUITE_PREFIX, key)
    for name in sorted(n for n in env if n.startswith(f"{prefix}_") and n[len(prefix) + 1:] not in defaults):
        logger.warning("%s is set in the environment but is no setting of this server (a typo?): the README's "
                       "configuration tables list them", name)
        unread.append(name)
    return unread
