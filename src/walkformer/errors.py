"""The user-facing error of bad input (imports nothing): a :class:`ConfigError`'s message is
one line naming the key, the value and what is allowed; the CLI prints it and exits 2."""


class ConfigError(ValueError):
    """A bad configuration value; ``str(err)`` is a one-line, user-facing message."""
