"""Keeping secrets out of text: the log filter the sync installs, and the helper behind it.

The client never logs headers, but a secret can still reach text indirectly (an API
`Message` that echoes a header, a third-party library's debug log). `redact` and
`SecretRedactingFilter` replace every occurrence of the given secret values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every occurrence of each secret replaced by `***`.

    Args:
        text: Any text that may end up in a log, exception or database row.
        secrets: secret values; empty strings are ignored.
    """
    # Longest first, so a secret that contains another one is masked whole.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class SecretRedactingFilter(logging.Filter):
    """A logging filter that masks the given secrets in messages and tracebacks.

    Attach it to handlers (a filter on a logger does not see records propagated from
    child loggers). It rewrites the record in place and never drops one.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(sorted({s for s in secrets if s}))

    def __eq__(self, other: object) -> bool:
        # Equal filters are not added twice to a handler: installing per run stays idempotent.
        return isinstance(other, SecretRedactingFilter) and other._secrets == self._secrets

    def __hash__(self) -> int:
        return hash(self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = redact(record.getMessage(), self._secrets)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters reuse exc_text when it is set: format the traceback here, masked.
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(formatted, self._secrets)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> None:
    """Add a `SecretRedactingFilter` to every handler of `logger` (default: the root).

    Handlers added later are not covered; call this after logging is configured.
    """
    target = logger or logging.getLogger()
    log_filter = SecretRedactingFilter(secrets)
    for handler in target.handlers:
        handler.addFilter(log_filter)
