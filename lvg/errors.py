"""User-facing errors: one line saying what is wrong and what to do; the CLI prints it and exits 2."""


class LvgError(ValueError):
    """Bad input from the user (config, path, file, prompt list). The message is the whole report."""


def require(condition: bool, message: str) -> None:
    """Raise `LvgError(message)` unless `condition` holds."""
    if not condition:
        raise LvgError(message)
