"""Meter drivers: they read meters and produce `MeterSample`s for the ledger's ingest.

- `drivers.base`: the one driver interface (`MeterDriver`) and the sample it produces.
- `drivers.errors`: the typed error tree every driver raises; foreign errors are translated
  once, at the edge, with `raise ... from exc`.
- `drivers.registers`: meter models as data (typed register maps), shared with the simulators.
- `drivers.models`: the built-in models (`MODELS`) and the YAML loader for user models.
- `drivers.modbus`: Modbus TCP / RTU / RTU-over-TCP links, the driver and the poller.
"""
