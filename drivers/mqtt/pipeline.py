"""The ingest worker: batches messages off paho's network thread, commits, then acks.

Per batch: decode every message; commit all readings in ONE sink call; then, per message,
publish its dead letters and ack it. If the sink raises, nothing from the failed messages
is acked: the connection is recycled after `sink_retry_delay_s` and the broker redelivers.
"""

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.mqtt.commands import CommandAck
from drivers.mqtt.counters import Counters
from drivers.mqtt.deadletter import DeadLetter
from drivers.mqtt.errors import PublishNotConfirmedError
from drivers.mqtt.readings import Decoded, ReadingDecoder
from drivers.mqtt.sink import Sink, commit
from drivers.mqtt.transport import Inbound

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_messages: int = 100
    max_wait_ms: int = 50
    queue_size: int = 1000
    sink_retry_delay_s: float = 1.0


class Pipeline:
    def __init__(
        self,
        *,
        decoder: ReadingDecoder,
        sink: Sink,
        publish_dead_letter: Callable[[DeadLetter], None],
        ack: Callable[[Inbound], bool],
        on_command_ack: Callable[[CommandAck], None],
        counters: Counters,
        policy: BatchPolicy,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._decoder = decoder
        self._sink = sink
        self._publish_dead_letter = publish_dead_letter
        self._ack = ack
        self._on_command_ack = on_command_ack
        self._counters = counters
        self._policy = policy
        self._loop = loop
        self._queue: queue.Queue[Inbound] = queue.Queue(maxsize=policy.queue_size)

    def offer(self, message: Inbound) -> None:
        """Called on paho's thread. Blocks only if the queue is full (back-pressure)."""
        self._queue.put(message)

    def run(self, stop: threading.Event, current_generation: Callable[[], int]) -> bool:
        """Process one batch; True if the sink failed (the caller then recycles)."""
        batch = self._collect(stop)
        live = [m for m in batch if m.generation == current_generation()]
        return bool(live) and self.process(live)

    def drain(self) -> None:
        """Forget queued messages (not acked: the broker redelivers them)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _collect(self, stop: threading.Event) -> list[Inbound]:
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self._policy.max_wait_ms / 1000
        while len(batch) < self._policy.max_messages and not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def process(self, batch: list[Inbound]) -> bool:
        decoded = [self._decoder.decode(m.topic, m.payload, m.received_at) for m in batch]
        readings = [r for d in decoded for r in d.readings]
        sink_failed = False
        if readings:
            try:
                commit(self._sink, readings, self._loop)
            except Exception:  # the sink is foreign code; its failure is logged, counted, retried
                logger.exception("sink failed for %d readings; not acking", len(readings))
                self._counters.add(sink_failures=1)
                sink_failed = True
            else:
                self._counters.add(readings_accepted=len(readings), batches_committed=1)
        acked = 0
        for message, result in zip(batch, decoded, strict=True):
            if sink_failed and result.readings:
                continue
            if self._settle(message, result) and self._ack(message):
                acked += 1
        self._counters.add(messages_acked=acked)
        return sink_failed

    def _settle(self, message: Inbound, result: Decoded) -> bool:
        """Dead-letter the rejections and hand over command acks; True if all were stored."""
        for ack in result.command_acks:
            self._on_command_ack(ack)
        for rejection in result.rejections:
            letter = DeadLetter(
                topic=message.topic,
                payload=message.payload,
                reason=rejection.reason,
                received_at=message.received_at,
                index=rejection.index,
            )
            try:
                self._publish_dead_letter(letter)
            except PublishNotConfirmedError:
                logger.warning("dead letter for %s not confirmed; not acking", message.topic)
                return False
            self._counters.add(dead_letters=1)
            logger.info("dead letter %s: %s", message.topic, rejection.reason)
        return True
