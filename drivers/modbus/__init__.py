"""Modbus drivers: links (TCP, RTU serial, RTU over TCP), the meter driver, the poller.

Layers, inner to outer: ``codec`` (registers <-> values, pure), ``planner`` (which
requests to send, pure), ``link`` (one port/socket, one lock, the error edge),
``driver`` (one meter), ``poller`` (many meters on an interval).
"""
