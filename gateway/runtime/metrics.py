"""Prometheus metrics of the running gateway, in one registry owned by the app.

Counted where they happen: ledger commits (`ObservedLedgerSink`), Modbus reads
(`TimedDriver`), scheduled jobs. Read at scrape time from their owners: the MQTT client's
counters and connection. Refreshed by the `db_stats` job: alerts, outbox, meter commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from drivers.base import MeterSample
from gateway.ledger.controls import ControlPolicy
from gateway.ledger.ingest import IngestResult, ReadingIn
from gateway.sinks import LedgerSink
from gateway.storage.schema import alerts, meter_commands, outbox

if TYPE_CHECKING:
    from drivers.base import MeterDriver
    from drivers.mqtt import CountersSnapshot

NS = "prepaid_gateway"
POLL_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class DbStats:
    """What the database says about the action side: counts by kind and status."""

    alerts_by_kind: dict[str, int] = field(default_factory=dict)
    outbox_pending: int = 0
    commands_by_status: dict[str, int] = field(default_factory=dict)


def read_db_stats(engine: Engine) -> DbStats:
    with engine.connect() as connection:
        by_kind = connection.execute(select(alerts.c.kind, func.count()).group_by(alerts.c.kind))
        pending = connection.execute(
            select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
        ).scalar_one()
        by_status = connection.execute(
            select(meter_commands.c.status, func.count()).group_by(meter_commands.c.status)
        )
        return DbStats(
            alerts_by_kind={str(kind): int(n) for kind, n in by_kind},
            outbox_pending=int(pending),
            commands_by_status={str(status): int(n) for status, n in by_status},
        )


class _LiveCollector(Collector):
    """Values read from their owners at scrape time (the MQTT client, the last `DbStats`)."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        connected = GaugeMetricFamily(f"{NS}_mqtt_connected", "1 while subscribed to the broker")
        if m.mqtt_connected is not None:
            connected.add_metric([], 1.0 if m.mqtt_connected() else 0.0)
        yield connected
        if m.mqtt_counters is not None:
            snapshot = m.mqtt_counters()
            yield _counter(
                "mqtt_dead_letters", "MQTT messages dead-lettered", snapshot.dead_letters
            )
            yield _counter("mqtt_messages_acked", "MQTT messages acked", snapshot.messages_acked)
            yield _counter(
                "mqtt_sink_failures", "MQTT batches not committed", snapshot.sink_failures
            )
        stats = m.db_stats
        raised = CounterMetricFamily(
            f"{NS}_alerts_raised", "alerts stored, by kind", labels=["kind"]
        )
        for kind, count in sorted(stats.alerts_by_kind.items()):
            raised.add_metric([kind], count)
        yield raised
        yield GaugeMetricFamily(
            f"{NS}_outbox_pending", "outbox messages not yet delivered", value=stats.outbox_pending
        )
        commands = GaugeMetricFamily(
            f"{NS}_meter_commands", "meter commands, by status", labels=["status"]
        )
        for status, count in sorted(stats.commands_by_status.items()):
            commands.add_metric([status], count)
        yield commands


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{NS}_{name}", documentation, value=value)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.readings = Counter(
            f"{NS}_readings", "readings through the ledger, by outcome", ["outcome"], registry=r
        )
        self.deductions = Counter(f"{NS}_deductions", "deductions posted", registry=r)
        self.commits = Counter(f"{NS}_ledger_commits", "ledger batches committed", registry=r)
        self.commit_failures = Counter(
            f"{NS}_ledger_commit_failures", "ledger batches that failed to commit", registry=r
        )
        self.last_commit = Gauge(
            f"{NS}_last_commit_timestamp_seconds", "Unix time of the last ledger commit", registry=r
        )
        self.poll_latency = Histogram(
            f"{NS}_modbus_poll_seconds",
            "Modbus meter read latency, by outcome",
            ["outcome"],
            buckets=POLL_BUCKETS_S,
            registry=r,
        )
        self.jobs = Counter(f"{NS}_job_runs", "scheduled job runs", ["job", "outcome"], registry=r)
        self.mqtt_connected: Callable[[], bool] | None = None
        self.mqtt_counters: Callable[[], CountersSnapshot] | None = None
        self.db_stats = DbStats()
        r.register(_LiveCollector(self))

    def committed(self, results: Sequence[IngestResult]) -> None:
        self.commits.inc()
        self.last_commit.set(time.time())
        for result in results:
            self.readings.labels("duplicate" if result.duplicate else result.outcome).inc()
            if result.entry_id is not None and not result.duplicate and result.charged:
                self.deductions.inc()

    def job_ran(self, name: str, ok: bool, _duration_s: float) -> None:
        self.jobs.labels(name, "ok" if ok else "failed").inc()


class ObservedLedgerSink(LedgerSink):
    """The ledger sink, counting each commit's outcomes into `metrics`."""

    def __init__(
        self, engine: Engine, metrics: GatewayMetrics, *, policy: ControlPolicy | None = None
    ) -> None:
        super().__init__(engine, policy=policy)
        self._metrics = metrics

    def commit(self, batch: Sequence[ReadingIn]) -> list[IngestResult]:
        try:
            results = super().commit(batch)
        except Exception:
            self._metrics.commit_failures.inc()
            raise
        self._metrics.committed(results)
        return results


class TimedDriver:
    """A `MeterDriver` wrapper observing each read's latency; reads only, no commands."""

    def __init__(self, driver: MeterDriver, metrics: GatewayMetrics) -> None:
        self._driver = driver
        self._histogram = metrics.poll_latency

    @property
    def meter_id(self) -> str:
        return self._driver.meter_id

    async def read(self) -> MeterSample:
        started = time.perf_counter()
        outcome = "failed"
        try:
            sample = await self._driver.read()
            outcome = "ok"
        finally:
            self._histogram.labels(outcome).observe(time.perf_counter() - started)
        return sample

    async def set_relay(self, *, open: bool) -> None:
        await self._driver.set_relay(open=open)

    async def write_balance(self, amount: Decimal) -> None:
        await self._driver.write_balance(amount)


__all__ = [
    "DbStats",
    "GatewayMetrics",
    "ObservedLedgerSink",
    "TimedDriver",
    "read_db_stats",
]
