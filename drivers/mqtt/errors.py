"""Error types of the MQTT driver. Foreign errors (paho, OS, JSON) are translated here, once."""


class MqttError(Exception):
    """Base of every error the MQTT driver raises."""


class PayloadError(MqttError, ValueError):
    """A payload is refused. `field` names the wire field (dotted path, "$" for the whole)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BrokerUnavailableError(MqttError):
    """The broker could not be reached or refused the connection within the timeout."""


class PublishNotConfirmedError(MqttError):
    """The broker did not confirm (PUBACK) a QoS 1 publish within the timeout."""


class CommandTimeoutError(MqttError):
    """The meter did not acknowledge a command within the timeout; it does not count."""

    def __init__(self, command_id: str, timeout_s: float) -> None:
        super().__init__(f"command {command_id}: no acknowledgement within {timeout_s} s")
        self.command_id = command_id


class CommandRejectedError(MqttError):
    """The meter answered a command with ok=false; `reason` is the meter's error text."""

    def __init__(self, command_id: str, reason: str) -> None:
        super().__init__(f"command {command_id}: rejected by the meter: {reason}")
        self.command_id = command_id
        self.reason = reason
