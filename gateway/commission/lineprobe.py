"""A raw look at an RS-485 line after the driver heard nothing: silence, or garbled replies?

The Modbus driver drops a reply with a broken CRC and reports a timeout, which reads the
same as silence. A technician needs to tell them apart (silence: wiring, address, baud;
garbled: noise, termination, baud / parity), so after a timeout on RTU this sends one
read request by hand (pyserial, with the driver's link closed) and looks at the bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import serial

from drivers.registers import SerialDefaults

ProbeKind = Literal["silence", "garbled", "other-unit", "answer", "port-error"]


def crc16(data: bytes) -> int:
    """The Modbus RTU CRC (polynomial 0xA001, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def read_request(unit_id: int, function_code: int, address: int, count: int) -> bytes:
    body = bytes([unit_id, function_code]) + address.to_bytes(2, "big") + count.to_bytes(2, "big")
    return body + crc16(body).to_bytes(2, "little")


def frame_ok(frame: bytes) -> bool:
    return len(frame) >= 4 and crc16(frame[:-2]).to_bytes(2, "little") == frame[-2:]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    kind: ProbeKind
    received: bytes = b""
    detail: str = ""


def classify(reply: bytes, unit_id: int) -> ProbeResult:
    if not reply:
        return ProbeResult("silence")
    if not frame_ok(reply):
        return ProbeResult("garbled", reply)
    if reply[0] != unit_id:
        return ProbeResult("other-unit", reply, f"unit {reply[0]}")
    return ProbeResult("answer", reply)


def probe_rtu(
    device: str,
    line: SerialDefaults,
    *,
    unit_id: int,
    function_code: int,
    address: int,
    count: int,
    timeout_s: float = 1.0,
) -> ProbeResult:
    """Send one read request and classify what comes back (blocking; run in a thread)."""
    character_s = 11 / line.baudrate
    try:
        with serial.Serial(
            device,
            baudrate=line.baudrate,
            bytesize=line.bytesize,
            parity=line.parity,
            stopbits=line.stopbits,
            timeout=timeout_s,
        ) as port:
            port.reset_input_buffer()
            port.write(read_request(unit_id, function_code, address, count))
            first = bytes(port.read(1))
            port.timeout = max(0.05, 10 * character_s)
            rest = b""
            deadline = time.monotonic() + timeout_s
            while first and time.monotonic() < deadline:
                chunk = bytes(port.read(256))
                if not chunk:
                    break
                rest += chunk
    except (serial.SerialException, OSError) as exc:
        return ProbeResult("port-error", detail=str(exc))
    return classify(first + rest, unit_id)
