"""Counters of the MQTT ingest, safe to read from any thread."""

import threading
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class CountersSnapshot:
    readings_accepted: int = 0
    dead_letters: int = 0
    batches_committed: int = 0
    sink_failures: int = 0
    messages_acked: int = 0


class Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = CountersSnapshot()

    def add(
        self,
        *,
        readings_accepted: int = 0,
        dead_letters: int = 0,
        batches_committed: int = 0,
        sink_failures: int = 0,
        messages_acked: int = 0,
    ) -> None:
        with self._lock:
            v = self._value
            self._value = replace(
                v,
                readings_accepted=v.readings_accepted + readings_accepted,
                dead_letters=v.dead_letters + dead_letters,
                batches_committed=v.batches_committed + batches_committed,
                sink_failures=v.sink_failures + sink_failures,
                messages_acked=v.messages_acked + messages_acked,
            )

    def snapshot(self) -> CountersSnapshot:
        with self._lock:
            return self._value
