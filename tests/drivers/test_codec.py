"""Register codec: word order, byte order, scaling, invalid markers, float-to-Decimal."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pymodbus.client import ModbusTcpClient

from drivers.errors import DecodeError, EncodeError
from drivers.modbus import codec
from drivers.registers import DataType, RegisterSpec


def spec(
    data_type: DataType,
    *,
    scale: str = "1",
    word_order: str = "big",
    byte_order: str = "big",
    invalid_raw: int | None = None,
    role: str = "voltage_v",
    resolution: str | None = None,
) -> RegisterSpec:
    return RegisterSpec(
        name="x",
        role=role,
        function_code=3,
        address=0,
        data_type=data_type,
        scale=Decimal(scale),
        word_order=word_order,  # type: ignore[arg-type]
        byte_order=byte_order,  # type: ignore[arg-type]
        invalid_raw=invalid_raw,
        resolution=None if resolution is None else Decimal(resolution),
    )


# 1234.5 as float32 is 0x449A5000: ABCD = [0x449A, 0x5000]
@pytest.mark.parametrize(
    ("word_order", "byte_order", "registers"),
    [
        ("big", "big", [0x449A, 0x5000]),  # ABCD
        ("little", "big", [0x5000, 0x449A]),  # CDAB
        ("big", "little", [0x9A44, 0x0050]),  # BADC
        ("little", "little", [0x0050, 0x9A44]),  # DCBA
    ],
)
def test_float32_in_all_four_orders(word_order: str, byte_order: str, registers: list[int]) -> None:
    s = spec(DataType.FLOAT32, word_order=word_order, byte_order=byte_order)
    assert codec.decode(registers, s) == Decimal("1234.5")
    assert codec.encode(Decimal("1234.5"), s) == registers


def test_u32_word_order() -> None:
    assert codec.decode([0x0001, 0x0002], spec(DataType.U32)) == Decimal(0x00010002)
    assert codec.decode([0x0001, 0x0002], spec(DataType.U32, word_order="little")) == Decimal(
        0x00020001
    )


def test_u64_big_endian_with_scale() -> None:
    registers = [0x0000, 0x0000, 0x0001, 0xE240]  # 123456
    assert codec.decode(registers, spec(DataType.U64, scale="0.01")) == Decimal("1234.56")


def test_signed_types() -> None:
    assert codec.decode([0xFFFF], spec(DataType.S16)) == Decimal(-1)
    assert codec.decode([0xFFFF, 0xFF9C], spec(DataType.S32, scale="0.01")) == Decimal("-1.00")


def test_scale_is_exact_decimal() -> None:
    # DTSU666 voltage: float32 in 0.1 V. 2301.0 * 0.1 is exactly 230.1, never 230.10000000000002
    registers = codec.bytes_to_registers(struct.pack(">f", 2301.0), spec(DataType.FLOAT32))
    assert codec.decode(registers, spec(DataType.FLOAT32, scale="0.1")) == Decimal("230.1")


def test_float32_becomes_shortest_round_trip_decimal() -> None:
    registers = codec.bytes_to_registers(struct.pack(">f", 1234.56), spec(DataType.FLOAT32))
    assert str(codec.decode(registers, spec(DataType.FLOAT32))) == "1234.56"


def test_resolution_rounds_half_even() -> None:
    s = spec(DataType.U16, scale="0.001", resolution="0.01")
    assert codec.decode([1235], s) == Decimal("1.24")
    assert codec.decode([1245], s) == Decimal("1.24")


def test_invalid_markers() -> None:
    abb_u64 = spec(DataType.U64, invalid_raw=0xFFFF_FFFF_FFFF_FFFF)
    assert codec.is_invalid([0xFFFF] * 4, abb_u64)
    assert not codec.is_invalid([0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], abb_u64)
    nan = codec.bytes_to_registers(struct.pack(">f", float("nan")), spec(DataType.FLOAT32))
    assert codec.is_invalid(nan, spec(DataType.FLOAT32))
    with pytest.raises(DecodeError):
        codec.decode(nan, spec(DataType.FLOAT32))


def test_wrong_register_count_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="expected 2 registers"):
        codec.decode([1], spec(DataType.U32))


def test_energy_encodes_rounding_down_and_wraps_when_asked() -> None:
    energy = spec(DataType.U32, scale="0.01", role="energy_total_kwh")
    assert codec.encode(Decimal("1.239"), energy) == [0, 123]
    with pytest.raises(EncodeError):
        codec.encode(Decimal("42949672.96"), energy)
    assert codec.encode(Decimal("42949672.97"), energy, wrap=True) == [0, 1]


def test_encode_exact_refuses_values_off_the_register_step() -> None:
    balance = spec(DataType.S32, scale="0.01", role="balance")
    assert codec.encode_exact(Decimal("-12.34"), balance) == [0xFFFF, 0xFB2E]
    with pytest.raises(EncodeError, match="multiple"):
        codec.encode_exact(Decimal("1.234"), balance)


@pytest.mark.parametrize(
    ("data_type", "pymodbus_type"),
    [
        (DataType.U32, ModbusTcpClient.DATATYPE.UINT32),
        (DataType.S32, ModbusTcpClient.DATATYPE.INT32),
        (DataType.U64, ModbusTcpClient.DATATYPE.UINT64),
        (DataType.FLOAT32, ModbusTcpClient.DATATYPE.FLOAT32),
    ],
)
@pytest.mark.parametrize("word_order", ["big", "little"])
def test_agrees_with_pymodbus_convert_from_registers(
    data_type: DataType, pymodbus_type: ModbusTcpClient.DATATYPE, word_order: str
) -> None:
    registers = [0x4049, 0x0FDB, 0x1234, 0x5678][: spec(data_type).count]
    ours = codec.decode_raw(registers, spec(data_type, word_order=word_order))
    theirs = ModbusTcpClient.convert_from_registers(
        registers,
        pymodbus_type,
        word_order=word_order,  # type: ignore[arg-type]
    )
    assert ours == theirs


@given(
    raw=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    word_order=st.sampled_from(["big", "little"]),
    byte_order=st.sampled_from(["big", "little"]),
)
def test_s32_round_trips(raw: int, word_order: str, byte_order: str) -> None:
    s = spec(DataType.S32, scale="0.01", word_order=word_order, byte_order=byte_order)
    value = Decimal(raw) * Decimal("0.01")
    assert codec.decode(codec.encode(value, s), s) == value


@example(value=3.4025001647762064e38)
@given(value=st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_decimal_packs_back_to_the_same_bits(value: float) -> None:
    s = spec(DataType.FLOAT32)
    registers = codec.bytes_to_registers(struct.pack(">f", value), s)
    decoded = codec.decode(registers, s)
    assert struct.pack(">f", float(decoded)) == struct.pack(">f", value)
