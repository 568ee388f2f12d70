"""`prepaid-gateway demo`: the whole gateway, live, on one machine, in under a minute.

broker.py  an MQTT broker: the system Mosquitto, else an embedded one (amqtt)
seed.py    the cast: a tariff, accounts, meters, an API key, the gateway's config
meters.py  the simulated meters: MQTT meters on an accelerated clock, one Modbus TCP meter
story.py   the narrator: watches the ledger, prints what happens, tops up through the API
run.py     wires it together in one event loop and stops it cleanly (docs/demo.md)
"""
