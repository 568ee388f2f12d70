"""The topic tree of the MQTT contract, with an optional prefix (e.g. "site1/").

Pure: builds topic names and filters, and routes an incoming topic to what it carries.
"""

from dataclasses import dataclass
from enum import Enum
from typing import Final

_WILDCARDS: Final = ("+", "#")


class TopicKind(Enum):
    METER_READING = "meter_reading"
    CONCENTRATOR_READINGS = "concentrator_readings"
    TASMOTA_SENSOR = "tasmota_sensor"
    COMMAND_ACK = "command_ack"


@dataclass(frozen=True, slots=True)
class Route:
    """What an incoming topic carries; `key` is the meter, concentrator or device name."""

    kind: TopicKind
    key: str


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names under `prefix`. The default prefix "" gives the documented names exactly."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if any(w in self.prefix for w in _WILDCARDS):
            msg = f"prefix: must not contain MQTT wildcards, got {self.prefix!r}"
            raise ValueError(msg)
        if self.prefix and not self.prefix.endswith("/"):
            msg = f"prefix: must be empty or end with '/', got {self.prefix!r}"
            raise ValueError(msg)

    def meter_reading(self, meter_id: str) -> str:
        return f"{self.prefix}meters/{meter_id}/reading"

    def concentrator_readings(self, concentrator_id: str) -> str:
        return f"{self.prefix}concentrators/{concentrator_id}/readings"

    def tasmota_sensor(self, device: str) -> str:
        return f"{self.prefix}tele/{device}/SENSOR"

    def command(self, meter_id: str) -> str:
        return f"{self.prefix}meters/{meter_id}/command"

    def command_ack(self, meter_id: str) -> str:
        return f"{self.prefix}meters/{meter_id}/command/ack"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}gateway/deadletter"

    def reading_filters(self, share_group: str | None = None) -> tuple[str, ...]:
        """Filters for every reading topic; with `share_group`, as MQTT v5 shared subscriptions."""
        filters = (
            self.meter_reading("+"),
            self.concentrator_readings("+"),
            self.tasmota_sensor("+"),
        )
        if share_group is None:
            return filters
        return tuple(f"$share/{share_group}/{f}" for f in filters)

    @property
    def command_ack_filter(self) -> str:
        return self.command_ack("+")

    def route(self, topic: str) -> Route | None:
        """Route an incoming topic, or None if it is not part of the contract."""
        if not topic.startswith(self.prefix):
            return None
        levels = topic[len(self.prefix) :].split("/")
        match levels:
            case ["meters", key, "reading"] if key:
                return Route(TopicKind.METER_READING, key)
            case ["concentrators", key, "readings"] if key:
                return Route(TopicKind.CONCENTRATOR_READINGS, key)
            case ["tele", key, "SENSOR"] if key:
                return Route(TopicKind.TASMOTA_SENSOR, key)
            case ["meters", key, "command", "ack"] if key:
                return Route(TopicKind.COMMAND_ACK, key)
            case _:
                return None
