"""Fault specs (``offline@60s+30s``) and fleet scenario files (YAML), validated.

A fault spec is ``KIND[:ARG[:ARG]][@START][+DURATION]``; START and DURATION are
simulated time on the meter's clock, counted from when the fault is set (the fleet's
start for a scenario, the moment a control file is read for ``simulate fault``):

    offline  slow:SECONDS  exception[:CODE]  stuck  spike:KWH  drift:SECONDS  invalid
    relay-refuses  crc  counter-reset  rollover[:HEADROOM_KWH]  exchange:SERIAL[:OPENING_KWH]

Durations: ``90``, ``90s``, ``15m``, ``2h``, ``1d``. The last three kinds are one-shot
events (no ``+DURATION``). A bad scenario fails with ``ScenarioError`` naming the key:
``groups[1].faults[0].fault: unknown fault kind 'ofline' (known: ...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from drivers.error_keys import key_path, reason
from drivers.models import MODELS
from simulators import faults as f

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SPEC = re.compile(r"^(?P<body>[a-z-]+(?::[^@+]+)?)(?:@(?P<start>[^+]+))?(?:\+(?P<length>.+))?$")


class ScenarioError(ValueError):
    """A bad fault spec or scenario; ``key`` is the path, e.g. ``groups[0].count``."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if match is None:
        msg = f"bad duration {text!r} (use e.g. 90, 90s, 15m, 2h, 1d)"
        raise ValueError(msg)
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _dec(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        msg = f"{text!r} is not a number"
        raise ValueError(msg) from exc


_Builder = Callable[[list[str]], f.WindowFault | f.Event]
_KINDS: dict[str, tuple[int, int, _Builder]] = {  # kind: (min args, max args, build)
    "offline": (0, 0, lambda _: f.Offline()),
    "slow": (1, 1, lambda a: f.SlowAnswers(float(_dec(a[0])))),
    "exception": (0, 1, lambda a: f.ExceptionReply(int(a[0]) if a else 4)),
    "stuck": (0, 0, lambda _: f.StuckValue()),
    "spike": (1, 1, lambda a: f.Spike(_dec(a[0]))),
    "drift": (1, 1, lambda a: f.ClockDrift(int(a[0]))),
    "invalid": (0, 0, lambda _: f.InvalidReadings()),
    "relay-refuses": (0, 0, lambda _: f.RelayRefuses()),
    "crc": (0, 0, lambda _: f.CrcErrors()),
    "counter-reset": (0, 0, lambda _: f.CounterReset()),
    "rollover": (0, 1, lambda a: f.Rollover(_dec(a[0])) if a else f.Rollover()),
    "exchange": (1, 2, lambda a: f.MeterExchange(int(a[0]), _dec(a[1]) if a[1:] else Decimal(0))),
}
FAULT_KINDS = tuple(_KINDS)


@dataclass(frozen=True, slots=True)
class FaultSpec:
    fault: f.WindowFault | f.Event
    start: timedelta = timedelta(0)
    duration: timedelta | None = None
    text: str = ""

    def schedule(self, script: f.FaultScript, origin: datetime) -> None:
        """Add this fault to ``script``, its start counted from ``origin`` (meter clock)."""
        start = origin + self.start
        end = None if self.duration is None else start + self.duration
        script.add(self.fault, start=start, end=end)


def parse_fault(text: str) -> FaultSpec:
    """``"exception:2@1h+10m"`` -> ``FaultSpec(ExceptionReply(2), 1 h, 10 min)``."""
    match = _SPEC.match(text.strip().lower())
    if match is None:
        msg = f"bad fault {text!r} (KIND[:ARG][@START][+DURATION], e.g. offline@60s+30s)"
        raise ValueError(msg)
    kind, *args = match.group("body").split(":")
    if kind not in _KINDS:
        msg = f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})"
        raise ValueError(msg)
    low, high, build = _KINDS[kind]
    if not low <= len(args) <= high:
        msg = f"fault {kind!r} takes {low}..{high} argument(s), got {len(args)}"
        raise ValueError(msg)
    try:
        fault = build(args)
    except ValueError as exc:
        msg = f"fault {kind!r}: {exc}"
        raise ValueError(msg) from exc
    start = parse_duration(match.group("start")) if match.group("start") else timedelta(0)
    duration = parse_duration(match.group("length")) if match.group("length") else None
    if duration is not None and isinstance(fault, f.CounterReset | f.Rollover | f.MeterExchange):
        msg = f"{kind!r} is a one-shot event: it takes @START but no +DURATION"
        raise ValueError(msg)
    return FaultSpec(fault, start, duration, text.strip())


# -- scenario files -----------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConstantProfile(_Strict):
    constant_w: Decimal = Field(ge=0)


class GroupFault(_Strict):
    fault: str
    meters: list[int | str] | Literal["all"] = "all"  # 1-based indexes in the group, "3-9"

    @field_validator("fault")
    @classmethod
    def _fault_parses(cls, value: str) -> str:
        parse_fault(value)
        return value

    @field_validator("meters")
    @classmethod
    def _ranges_parse(cls, value: list[int | str] | str) -> list[int | str] | str:
        if isinstance(value, list):
            for item in value:
                if isinstance(item, str) and not re.fullmatch(r"\d+-\d+", item):
                    msg = f"bad meter range {item!r} (use a number or 'FIRST-LAST')"
                    raise ValueError(msg)
        return value

    def indexes(self, count: int) -> set[int]:
        """The 0-based meter indexes (within a group of ``count``) this fault applies to."""
        if self.meters == "all":
            return set(range(count))
        chosen: set[int] = set()
        for item in self.meters:
            if isinstance(item, int):
                chosen.add(item - 1)
            else:
                first, last = (int(part) for part in item.split("-"))
                chosen.update(range(first - 1, last))
        return {index for index in chosen if 0 <= index < count}


class Group(_Strict):
    name: str = "meters"
    transport: Literal["modbus-tcp", "mqtt-concentrator"] = "modbus-tcp"
    model: str = "prepaid-v1"
    count: int = Field(ge=1, le=100_000)
    units_per_socket: int = Field(default=200, ge=1, le=247)
    base_port: int = Field(default=0, ge=0, le=65535)
    meters_per_concentrator: int = Field(default=1000, ge=1)
    interval_s: float = Field(default=60.0, gt=0)
    profile: Literal["residential"] | ConstantProfile = "residential"
    opening_energy_kwh: Decimal = Field(default=Decimal(0), ge=0)
    balance: Decimal | None = None
    price_per_kwh: Decimal | None = None
    faults: list[GroupFault] = []

    @model_validator(mode="after")
    def _faults_are_modbus_only(self) -> Group:
        if self.faults and self.transport != "modbus-tcp":
            msg = "faults are supported on modbus-tcp groups only"
            raise ValueError(msg)
        return self

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in MODELS:
            msg = f"unknown model {value!r} (known: {', '.join(sorted(MODELS))})"
            raise ValueError(msg)
        return value


class Broker(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)


class Scenario(_Strict):
    name: str = "fleet"
    start: datetime | None = None  # meter clock start; default: now
    acceleration: float = Field(default=1.0, gt=0)
    host: str = "127.0.0.1"
    mqtt: Broker = Broker()
    groups: list[Group] = Field(min_length=1)

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            msg = "must carry a UTC offset, e.g. 2026-03-01T00:00:00+08:00"
            raise ValueError(msg)
        return value

    @property
    def meter_count(self) -> int:
        return sum(group.count for group in self.groups)


def scenario_from_mapping(data: object) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = key_path(first["loc"], skip=_pydantic_label)
        why = _PROFILE_HELP if key.endswith(".profile") else reason(first)
        raise ScenarioError(key, why) from exc


_PROFILE_HELP = "must be 'residential' or {constant_w: WATTS} with WATTS >= 0"


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(str(path), f"not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ScenarioError(str(path), f"cannot read: {exc}") from exc
    return scenario_from_mapping(data)


def _pydantic_label(part: int | str) -> bool:
    """pydantic's union-branch labels are not keys the user wrote."""
    return isinstance(part, str) and (part.startswith(("function-", "literal[")) or part in _NOISE)


_NOISE = {"ConstantProfile", "list[union[int,str]]", "int", "str"}
