"""The typed errors every driver raises.

Protocol and transport errors (pymodbus, pyserial, OS) are translated once, where they
happen, with ``raise ... from exc``; callers only ever see these types. No driver returns
``None`` (or the last good value) to signal a failure.
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error a meter driver raises."""


class MeterUnreachableError(DriverError):
    """The meter did not answer in time, or its link is down."""

    def __init__(self, *, meter_id: str, unit_id: int, port: str, reason: str) -> None:
        self.meter_id = meter_id
        self.unit_id = unit_id
        self.port = port
        self.reason = reason
        super().__init__(f"meter {meter_id} (unit {unit_id} on {port}) unreachable: {reason}")


class ModbusExceptionReplyError(DriverError):
    """The meter answered with a Modbus exception reply (e.g. 2 = illegal data address)."""

    def __init__(
        self, *, meter_id: str, unit_id: int, function_code: int, address: int, exception_code: int
    ) -> None:
        self.meter_id = meter_id
        self.unit_id = unit_id
        self.function_code = function_code
        self.address = address
        self.exception_code = exception_code
        super().__init__(
            f"meter {meter_id} (unit {unit_id}) answered FC{function_code} at "
            f"0x{address:04X} with Modbus exception {exception_code}"
        )


class DecodeError(DriverError):
    """A reply could not be decoded into the value its register map declares."""


class EncodeError(DriverError):
    """A value cannot be written in the register's type and scale."""


class InvalidValueError(DriverError):
    """The meter reported its "invalid / not available" marker (or NaN) for a register."""

    def __init__(self, *, meter_id: str, register: str, raw: int | float) -> None:
        self.meter_id = meter_id
        self.register = register
        self.raw = raw
        super().__init__(f"meter {meter_id}: register {register} holds the invalid marker {raw!r}")


class UnsupportedOperationError(DriverError):
    """The meter model has no register for this operation (e.g. no relay)."""


class WriteNotConfirmedError(DriverError):
    """A write was acknowledged but reading it back shows another value."""


class RelayNotConfirmedError(WriteNotConfirmedError):
    """The relay was told to switch, but the read-back shows it did not."""

    def __init__(self, *, meter_id: str, wanted: str, read_back: str) -> None:
        self.meter_id = meter_id
        self.wanted = wanted
        self.read_back = read_back
        super().__init__(f"meter {meter_id}: relay told to be {wanted}, reads back {read_back}")


class ModelDefinitionError(DriverError):
    """A meter model definition is wrong; ``key`` is the path, e.g. ``registers[3].type``."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")
