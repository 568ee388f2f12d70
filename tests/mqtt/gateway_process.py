"""The gateway in its own OS process, for the SIGKILL test.

python -m tests.mqtt.gateway_process PORT CLIENT_ID DB_PATH
Each commit takes at least 5 ms (a ledger is not free), so a kill lands mid-stream.
Prints "ready" once connected and subscribed, then runs until killed.
"""

import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from drivers.mqtt import BatchPolicy, BrokerAddress, GatewayConfig, MqttGateway, MqttReading
from tests.mqtt.sqlite_sink import SqliteSink


def main() -> None:
    port, client_id, db_path = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    config = GatewayConfig(
        broker=BrokerAddress(port=port),
        client_id=client_id,
        batch=BatchPolicy(max_messages=50, max_wait_ms=10),
    )
    sqlite_sink = SqliteSink(db_path)

    def slow_sink(batch: Sequence[MqttReading]) -> None:
        time.sleep(0.005)
        sqlite_sink(batch)

    gateway = MqttGateway(config, slow_sink)
    gateway.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
