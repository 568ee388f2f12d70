"""The runtime: long-running loops that carry out what the ledger wrote in its transactions.

`outbox.OutboxDispatcher` delivers alerts and events (MQTT, signed webhooks) at least once;
`commands.CommandDispatcher` sends meter commands and records them only when confirmed.
See docs/alerts-and-commands.md.
"""
