"""MQTT meter driver: contract, validation, dead letters, ingest client, commands.

Only `drivers.mqtt.transport` imports paho-mqtt. See docs/mqtt.md.
"""

from drivers.mqtt.client import GatewayConfig, MqttGateway, PendingCommand
from drivers.mqtt.commands import Command, CommandAck
from drivers.mqtt.counters import CountersSnapshot
from drivers.mqtt.deadletter import DeadLetter
from drivers.mqtt.errors import (
    BrokerUnavailableError,
    CommandRejectedError,
    CommandTimeoutError,
    MqttError,
    PayloadError,
    PublishNotConfirmedError,
)
from drivers.mqtt.pipeline import BatchPolicy
from drivers.mqtt.readings import MqttReading, ReadingDecoder, ReadingLimits, TasmotaDevice
from drivers.mqtt.sink import Sink
from drivers.mqtt.topics import Topics
from drivers.mqtt.transport import BrokerAddress, Connection, Inbound, SessionOptions

__all__ = [
    "BatchPolicy",
    "BrokerAddress",
    "BrokerUnavailableError",
    "Command",
    "CommandAck",
    "CommandRejectedError",
    "CommandTimeoutError",
    "Connection",
    "CountersSnapshot",
    "DeadLetter",
    "GatewayConfig",
    "Inbound",
    "MqttError",
    "MqttGateway",
    "MqttReading",
    "PayloadError",
    "PendingCommand",
    "PublishNotConfirmedError",
    "ReadingDecoder",
    "ReadingLimits",
    "SessionOptions",
    "Sink",
    "TasmotaDevice",
    "Topics",
]
