"""The gateway (MQTT client + ledger sink) in its own OS process, for the SIGKILL test.

python -m tests.integration.gateway_process PORT CLIENT_ID DATABASE_URL COMMIT_DELAY_MS
Each commit is held `COMMIT_DELAY_MS` before it starts, so a kill lands mid-stream.
Prints "ready" once connected and subscribed, then runs until killed.
"""

import sys
import threading
import time
from collections.abc import Sequence

from drivers.mqtt import BatchPolicy, BrokerAddress, GatewayConfig, MqttGateway, MqttReading
from gateway.sinks import LedgerSink
from gateway.storage.db import make_engine


def main() -> None:
    port, client_id, url, delay_ms = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    config = GatewayConfig(
        broker=BrokerAddress(port=int(port)),
        client_id=client_id,
        batch=BatchPolicy(max_messages=20, max_wait_ms=10, sink_retry_delay_s=0.2),
    )
    ledger = LedgerSink(make_engine(url))

    def slow_sink(batch: Sequence[MqttReading]) -> None:
        time.sleep(int(delay_ms) / 1000)
        ledger(batch)

    gateway = MqttGateway(config, slow_sink)
    gateway.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
