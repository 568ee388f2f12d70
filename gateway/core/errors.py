"""Error types of the core. Each names what is wrong so a person can act on it."""


class CoreError(Exception):
    """Base of every error the core raises."""


class TariffError(CoreError, ValueError):
    """A tariff is invalid. `field` is the dotted path of the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class RatingError(CoreError, ValueError):
    """A reading interval cannot be rated. The reading is refused; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReadingOrderError(RatingError):
    """The current reading is not later than the previous one."""


class NegativeConsumptionError(RatingError):
    """The register went down; rollover and meter exchange are resolved before rating."""


class BandRegisterMismatchError(RatingError):
    """Per-band registers do not add up to the total register within the tolerance."""


class NoTariffInForceError(RatingError):
    """No tariff version is in force for part of the interval."""
