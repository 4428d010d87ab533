"""Energy and area of hardware components, anchored at 45 nm and scaled to other nodes.

Anchors (DESIGN.md "Energy/area model"):

- Arithmetic, 45 nm (M. Horowitz, "Computing's energy problem", ISSCC 2014, fig. 1.1.9):
  int8 add 0.03 pJ / 36 µm², int16 add 0.05 pJ / 67 µm², int32 add 0.1 pJ / 137 µm²,
  int8 mult 0.2 pJ / 282 µm², int32 mult 3.1 pJ / 3495 µm², fp16 add 0.4 pJ / 1360 µm²,
  fp16 mult 1.1 pJ / 1640 µm², fp32 add 0.9 pJ / 4184 µm², fp32 mult 3.7 pJ / 7700 µm².
- SRAM, 64-bit read at 45 nm (same source): 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ.
  Fitted as E = 10 pJ * (size / 8 KB)^0.4746 (the 8 KB and 1 MB anchors exactly; 32 KB
  gives 19.3 pJ, 3.5% under its anchor), linear in word width.
- Registers (flip-flops), one bit clocked for one cycle at 1 GHz: 0.009 pJ, 5.98 µm² (Aladdin,
  Shao et al., ISCA 2014: its TSMC 40 nm characterization, ``REG_1ns_dynamic_energy`` 8.9995e-3
  pJ and ``REG_1ns_area`` 5.977 µm² in Aladdin's ``power_func.h``; the same row is the Accelergy
  Aladdin plug-in's register table). Internal (clock) power is 88 % of it, so it is charged per
  clocked bit per cycle, busy or not. A 40 nm figure, used here as the 45 nm anchor: no 40 -> 45
  nm step is applied (it would raise it by roughly 10-20 %).
- Shifter, 2:1 mux / logic gate, register split (Aladdin ``common/power_func.h``, github
  harvard-acc/ALADDIN at commit 170e15c440919a53b19b34c82968db7d2da29de9, the last change of that
  file; "Function units power model normalized to a commercial 40g", energy in pJ, area in µm²;
  its 32-bit function units): ``SHIFTER_1ns_dynamic_energy`` 4.172512e-01 pJ / ``SHIFTER_1ns_area``
  249.6 µm² for a 32-bit barrel shifter (Shl/LShr/AShr), taken as 32 x 5 = 160 2:1 mux-bits,
  so a ``width``-bit shifter with a ``shift_bits``-bit amount costs width * shift_bits / 160 of
  it; ``BIT_1ns_dynamic_energy`` 1.805590e-02 pJ / ``BIT_1ns_area`` 50.37 µm² for the 32-bit
  AND/OR/XOR unit, i.e. 1/32 of it per bit, used for one 2:1 mux bit and for one logic-gate bit
  alike; ``REG_1ns_int_power`` 7.936518e-03 and ``REG_1ns_switch_power`` 1.062977e-03 (mW at 1
  GHz = pJ per cycle) split the register row into its clock part (charged per flip-flop per
  cycle) and its data part (per toggle, at the 1/2 toggle rate of random data: 2.126e-03 pJ per
  output toggle). Like the register row, these 40 nm figures are used as 45 nm anchors with no
  40 -> 45 nm step. Aladdin's own 32-bit adder (``ADD_1ns_dynamic_energy`` 0.210 pJ) is about
  2x Horowitz's 0.1 pJ, so Aladdin-anchored parts are priced on the higher of the two scales.
- Technology scaling 45 -> 28 nm (Stillmaker & Baas, Integration 2017): energy x0.513,
  area x0.377. Other nodes have no anchor here and are refused.

Widths between anchors: integer adders interpolate linearly in bits (8/16/32 anchors,
extrapolated linearly beyond); integer multipliers follow a power law in a_bits * b_bits
fitted through the 8x8 and 32x32 anchors (energy exponent 0.9885, area 0.9078).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qaccel.errors import ConfigError

__all__ = ["Cost", "int_add", "int_mult", "fp_add", "fp_mult", "register", "sram_access_pj",
           "TECH_SCALE", "scale_to", "shifter", "mux2", "logic_gate", "register_clock",
           "register_toggle_pj", "RANDOM_TOGGLE_RATE"]


@dataclass(frozen=True)
class Cost:
    """Energy of one operation (unit: pJ) and area of one instance (unit: µm²)."""

    energy_pj: float
    area_um2: float

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.energy_pj + other.energy_pj, self.area_um2 + other.area_um2)

    def __mul__(self, k: float) -> Cost:
        return Cost(self.energy_pj * k, self.area_um2 * k)


_ADD_45 = {8: Cost(0.03, 36.0), 16: Cost(0.05, 67.0), 32: Cost(0.1, 137.0)}
_MULT8_45, _MULT32_45 = Cost(0.2, 282.0), Cost(3.1, 3495.0)
_FP_45 = {("add", 16): Cost(0.4, 1360.0), ("mult", 16): Cost(1.1, 1640.0),
          ("add", 32): Cost(0.9, 4184.0), ("mult", 32): Cost(3.7, 7700.0)}
_REG_BIT_45 = Cost(0.009, 5.98)
_SHIFTER32_45 = Cost(0.4172512, 249.6461)  # Aladdin SHIFTER_1ns, 32-bit, 5-bit amount
_SHIFTER32_MUX_BITS = 32 * 5
_BIT_45 = Cost(0.01805590 / 32, 50.36996 / 32)  # Aladdin BIT_1ns per bit (32-bit unit)
_REG_CLOCK_45, _REG_SWITCH_45 = 7.936518e-03, 1.062977e-03  # Aladdin REG_1ns int / switch
#: toggles per bit per operation of random operands: the activity the anchors describe
RANDOM_TOGGLE_RATE = 0.5
_SRAM64_8KB_PJ, _SRAM_EXPONENT = 10.0, math.log(10.0) / math.log(128.0)

#: node (nm) -> (energy factor, area factor) relative to 45 nm (Stillmaker & Baas 2017)
TECH_SCALE: dict[int, tuple[float, float]] = {45: (1.0, 1.0), 28: (0.513, 0.377)}


def _check_bits(bits: int, name: str = "bits") -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 64:
        raise ValueError(f"{name} must be an int in 1..64, not {bits!r}")


def int_add(bits: int) -> Cost:
    """A ``bits``-wide integer adder at 45 nm."""
    _check_bits(bits)
    if bits in _ADD_45:
        return _ADD_45[bits]
    lo, hi = (8, 16) if bits < 16 else (16, 32)
    t = (bits - lo) / (hi - lo)
    a, b = _ADD_45[lo], _ADD_45[hi]
    return Cost(max(a.energy_pj + t * (b.energy_pj - a.energy_pj), 0.0),
                max(a.area_um2 + t * (b.area_um2 - a.area_um2), 0.0))


def int_mult(a_bits: int, b_bits: int) -> Cost:
    """An ``a_bits`` x ``b_bits`` integer multiplier at 45 nm."""
    _check_bits(a_bits, "a_bits")
    _check_bits(b_bits, "b_bits")
    ratio = a_bits * b_bits / 64.0
    e_exp = math.log(_MULT32_45.energy_pj / _MULT8_45.energy_pj) / math.log(16.0)
    a_exp = math.log(_MULT32_45.area_um2 / _MULT8_45.area_um2) / math.log(16.0)
    return Cost(_MULT8_45.energy_pj * ratio**e_exp, _MULT8_45.area_um2 * ratio**a_exp)


def fp_add(bits: int) -> Cost:
    """An FP16 or FP32 adder at 45 nm."""
    return _fp("add", bits)


def fp_mult(bits: int) -> Cost:
    """An FP16 or FP32 multiplier at 45 nm."""
    return _fp("mult", bits)


def _fp(kind: str, bits: int) -> Cost:
    if (kind, bits) not in _FP_45:
        raise ValueError(f"floating-point {kind} bits must be 16 or 32, not {bits!r}")
    return _FP_45[(kind, bits)]


def register(bits: int) -> Cost:
    """``bits`` flip-flops at 45 nm: energy of one clock cycle (pJ), area (µm²)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 0:
        raise ValueError(f"bits must be an int >= 0, not {bits!r}")
    return _REG_BIT_45 * bits


def shifter(width: int, shift_bits: int) -> Cost:
    """A barrel shifter of ``width`` data bits and a ``shift_bits``-bit amount at 45 nm (one
    shift of random operands, pJ; area µm²): ``width * shift_bits`` 2:1 mux-bits at the per
    mux-bit rate of Aladdin's 32-bit, 5-stage shifter."""
    _check_bits(width, "width")
    _check_bits(shift_bits, "shift_bits")
    return _SHIFTER32_45 * (width * shift_bits / _SHIFTER32_MUX_BITS)


def mux2(bits: int) -> Cost:
    """``bits`` 2:1 multiplexer bits at 45 nm (one selection of random inputs, pJ; µm²),
    priced as Aladdin's logic unit per bit."""
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 0:
        raise ValueError(f"bits must be an int >= 0, not {bits!r}")
    return _BIT_45 * bits


def logic_gate(bits: int) -> Cost:
    """``bits`` two-input logic gates (AND/OR/XOR) at 45 nm (one operation of random inputs,
    pJ; µm²): Aladdin's logic unit per bit."""
    return mux2(bits)


def register_clock(bits: int) -> Cost:
    """Clock (internal) energy of ``bits`` flip-flops for one cycle at 45 nm (pJ), whether or
    not their data changes; the area is the whole flip-flop's (µm²)."""
    return Cost(_REG_CLOCK_45 * bits, register(bits).area_um2)


def register_toggle_pj() -> float:
    """Data (switching) energy of one flip-flop output toggle at 45 nm (pJ): the register row's
    switch power at the random-data toggle rate, ``switch / RANDOM_TOGGLE_RATE``."""
    return _REG_SWITCH_45 / RANDOM_TOGGLE_RATE


def sram_access_pj(size_bytes: int, word_bits: int) -> float:
    """Energy of one ``word_bits``-wide access to an SRAM of ``size_bytes`` at 45 nm (pJ)."""
    kb8 = size_bytes / 8192.0
    return _SRAM64_8KB_PJ * kb8**_SRAM_EXPONENT * word_bits / 64.0


def scale_to(cost: Cost, node_nm: int) -> Cost:
    """``cost`` (45 nm) at ``node_nm``."""
    if node_nm not in TECH_SCALE:
        raise ConfigError.single("tech.node_nm", "must be one of "
                                 f"{', '.join(map(str, sorted(TECH_SCALE)))} for the energy/area "
                                 f"model (no scaling anchor for other nodes), not {node_nm}")
    e, a = TECH_SCALE[node_nm]
    return Cost(cost.energy_pj * e, cost.area_um2 * a)
