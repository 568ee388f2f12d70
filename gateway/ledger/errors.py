"""Errors of the ledger services, each naming what is wrong."""


class LedgerError(Exception):
    """Base of the ledger's errors."""


class NotFoundError(LedgerError, LookupError):
    """An account, meter, tariff or entry that does not exist."""


class ConflictError(LedgerError):
    """A request that contradicts what is already recorded (e.g. a reused top-up reference)."""


class InvalidRequestError(LedgerError, ValueError):
    """A request that can never succeed as given."""
