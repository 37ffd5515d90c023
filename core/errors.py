"""The three kinds of failure the engine distinguishes: tell the user, retry later, or page a developer."""


class UserError(Exception):
    """Something the user can fix; the message is the reply, verbatim."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class UsageError(UserError):
    """A command that does not parse; the message names the problem and ends with the usage line."""


class NotAllowed(UserError):
    """The actor may not do this (for example spend the treasury without being an operator)."""


class TransientError(Exception):
    """An outside dependency is unavailable for now; the work stays retryable."""

    def __init__(self, message: str, *, service: str) -> None:
        super().__init__(message)
        self.message = message
        self.service = service


class ChainUnavailable(TransientError):
    def __init__(self, message: str = "the chain node is not answering") -> None:
        super().__init__(message, service="chain")


class StorageUnavailable(TransientError):
    def __init__(self, message: str = "the database is not answering") -> None:
        super().__init__(message, service="database")


class ChainRejected(UserError):
    """The chain (or a simulation of it) refused a transaction; the message is a plain sentence."""
