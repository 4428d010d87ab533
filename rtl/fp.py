"""Combinational IEEE floating-point building blocks (Amaranth) shared by the FP families.

Every component here is a combinational :class:`amaranth.lib.wiring.Component` (no clock,
latency 0 cycles): raw IEEE bit patterns in, raw bit patterns out, all ports unsigned.
Rounding is always IEEE round to nearest, ties to even (RNE), done once on the exact result.

==========================  =========================================================
component                   function
==========================  =========================================================
:class:`Fp32Add`            ``s = fl32(a + b)``             binary32 + binary32
:class:`Fp16MulExact`       ``p = a * b`` (exact)           binary16 x binary16 -> binary32
:class:`Fp32FromScaledInt`  ``f = fl32(p * 2^x)``           signed int, signed exponent
:class:`Fp32ToFp16`         ``h = fl16(a)``                 binary32 -> binary16
==========================  =========================================================

All of them share one rounding scheme: the exact result is brought to a fixed frame (the
significand, then a guard bit and a sticky bit), and ``{exponent field, fraction} +
round_up`` is formed as one integer, so a carry out of the fraction bumps the exponent
(1.11..1 -> 10.0, the largest subnormal -> the smallest normal, the largest finite -> inf)
without a separate normalization step.
"""

# No `from __future__ import annotations`: wiring.Component reads the port annotations.

import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Fp32Add", "Fp16MulExact", "Fp32FromScaledInt", "Fp32ToFp16",
           "FP32_INF", "FP16_INF"]

#: +inf bit patterns (OR in the sign bit for -inf)
FP32_INF = 0x7F80_0000
FP16_INF = 0x7C00


def _clz(m: Module, value: Value, name: str) -> Signal:
    """Leading zeros of ``value`` (``len(value)`` when it is 0): a priority encoder."""
    width = len(value)
    out = Signal(range(width + 1), name=name)
    m.d.comb += out.eq(width)
    for i in range(width):  # later statements win: the highest set bit decides
        with m.If(value[i]):
            m.d.comb += out.eq(width - 1 - i)
    return out


def _shift_right_sticky(value: Value, amount: Value) -> tuple[Value, Value]:
    """``(value >> amount, 1 if any 1 bit was shifted out)``; ``amount`` must be narrow
    (the check shifts back by it)."""
    shifted = value >> amount
    return shifted, (shifted << amount) != value


def _round_pack(m: Module, field: Value, frac: Value, guard: Value, sticky: Value,
                frac_bits: int, name: str) -> Signal:
    """``{field, frac} + round_up`` with RNE ``round_up = guard & (sticky | frac[0])``.

    ``field`` is the biased exponent (0 for a subnormal frame), ``frac`` the ``frac_bits``
    fraction bits. Returns the packed magnitude, one bit wider than ``field``'s frame so
    that callers can see an overflow past the all-ones exponent.
    """
    round_up = guard & (sticky | frac[0])
    packed = Signal(len(field) + frac_bits + 1, name=name)
    m.d.comb += packed.eq(Cat(frac[:frac_bits], field) + round_up)
    return packed


class Fp32Add(wiring.Component):
    """IEEE binary32 addition ``s = fl32(a + b)``, round to nearest even (combinational).

    Attributes
    ----------
    a : In(32)   binary32 bit pattern
    b : In(32)   binary32 bit pattern
    s : Out(32)  binary32 bit pattern of ``a + b`` rounded once (RNE)

    Domain: finite ``a`` and ``b`` (normal, subnormal or zero). Every such sum is exact to
    IEEE: normal, subnormal and zero results, and overflow to +-inf (RNE). Signed zeros as
    IEEE under RNE: ``x + (-x) = +0``, ``(+0) + (-0) = +0``, ``(-0) + (-0) = -0``. Inf and NaN
    *inputs* are not supported (the result is unspecified): the FP families only add FP32
    products and partial sums bounded far below 2^128 (fp16: |sum| <= K * 65504^2).

    Latency 0 cycles. Datapath: swap so ``|a| >= |b|``; align ``b`` with a guard, round and
    sticky bit (27-bit frame); add or subtract; normalize (at most one right shift, or a left
    shift limited by the exponent so that tiny results come out subnormal); round and pack.
    """

    a: In(32)
    b: In(32)
    s: Out(32)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        a, b = self.a, self.b
        swap = b[:31] > a[:31]
        big = Signal(32, name="big")
        small = Signal(32, name="small")
        m.d.comb += [big.eq(Mux(swap, b, a)), small.eq(Mux(swap, a, b))]

        def unpack(x: Value, tag: str) -> tuple[Signal, Signal]:
            exp, sig = Signal(8, name=f"e_{tag}"), Signal(24, name=f"sig_{tag}")
            normal = x[23:31] != 0
            m.d.comb += [exp.eq(Mux(normal, x[23:31], 1)), sig.eq(Cat(x[:23], normal))]
            return exp, sig

        e_big, sig_big = unpack(big, "big")
        e_small, sig_small = unpack(small, "small")
        subtract = big[31] ^ small[31]

        # Align: 24-bit significands in a 27-bit frame (3 bits below: guard, round, sticky).
        diff = e_big - e_small
        amount = Signal(range(28), name="align")
        m.d.comb += amount.eq(Mux(diff > 27, 27, diff))
        small_ext = Cat(Const(0, 3), sig_small)
        shifted, lost = _shift_right_sticky(small_ext, amount)
        y = Signal(27, name="aligned")
        m.d.comb += y.eq(shifted | lost)
        x = Cat(Const(0, 3), sig_big)
        z = Signal(28, name="sum")
        m.d.comb += z.eq(Mux(subtract, x - y, x + y))

        # Normalize to the leading one at bit 26 (the frame's hidden-bit position).
        lz = _clz(m, z[:27], "lz")
        left = Signal(range(28), name="left")
        m.d.comb += left.eq(Mux(lz > e_big - 1, e_big - 1, lz))  # stop at the subnormal floor
        norm = Signal(27, name="norm")
        field = Signal(9, name="field")
        with m.If(z[27]):  # carry out of the addition: one right shift, keep the sticky bit
            m.d.comb += [norm.eq(Cat(z[1] | z[0], z[2:28])), field.eq(e_big + 1)]
        with m.Else():
            m.d.comb += [norm.eq(z[:27] << left),
                         field.eq(Mux(norm[26], e_big - left, 0))]
        packed = _round_pack(m, field, norm[3:26], norm[2], norm[1] | norm[0], 23, "packed")

        inf = packed[23:32] >= 0xFF
        with m.If(z == 0):  # exact zero: -0 only for (-0) + (-0) (a nonzero sum has z != 0)
            m.d.comb += self.s.eq(Cat(Const(0, 31), a[31] & b[31]))
        with m.Elif(inf):
            m.d.comb += self.s.eq(Cat(Const(FP32_INF, 31), big[31]))
        with m.Else():
            m.d.comb += self.s.eq(Cat(packed[:31], big[31]))
        return m


class Fp16MulExact(wiring.Component):
    """Exact product of two binary16 values as binary32 (combinational).

    Attributes
    ----------
    a : In(16)   binary16 bit pattern
    b : In(16)   binary16 bit pattern
    p : Out(32)  binary32 bit pattern of ``a * b`` (no rounding)

    Domain: finite ``a`` and ``b``, subnormal inputs included. The product of two 11-bit
    significands has at most 22 bits and its magnitude lies in [2^-48, 65504^2] (or is 0),
    so it is a normal binary32 exactly: nothing is rounded. A zero product is a zero of sign
    ``sign(a) ^ sign(b)`` (``-0`` kept). Inf/NaN inputs are not supported.

    Latency 0 cycles. Datapath: an 11 x 11 unsigned multiplier, a 22-bit leading-zero count
    and a left shift that puts the leading one at the hidden-bit position.
    """

    a: In(16)
    b: In(16)
    p: Out(32)

    def elaborate(self, platform: object) -> Module:
        m = Module()

        def unpack(x: Value, tag: str) -> tuple[Signal, Signal]:
            exp, sig = Signal(5, name=f"e_{tag}"), Signal(11, name=f"sig_{tag}")
            normal = x[10:15] != 0
            m.d.comb += [exp.eq(Mux(normal, x[10:15], 1)), sig.eq(Cat(x[:10], normal))]
            return exp, sig

        ea, sa = unpack(self.a, "a")
        eb, sb = unpack(self.b, "b")
        sign = self.a[15] ^ self.b[15]
        prod = Signal(22, name="prod")
        m.d.comb += prod.eq(sa * sb)
        # value = prod * 2^(ea + eb - 50); leading one at bit 21 - lz -> biased exponent
        # ea + eb - 50 + 21 - lz + 127 = ea + eb + 98 - lz, in [79, 158]: always normal.
        lz = _clz(m, prod, "lz")
        norm = Signal(22, name="norm")
        m.d.comb += norm.eq(prod << lz)
        field = Signal(8, name="field")
        m.d.comb += field.eq(ea + eb + 98 - lz)
        with m.If(prod == 0):
            m.d.comb += self.p.eq(Cat(Const(0, 31), sign))
        with m.Else():
            m.d.comb += self.p.eq(Cat(Const(0, 2), norm[:21], field, sign))
        return m


class Fp32FromScaledInt(wiring.Component):
    """``f = fl32(p * 2^x)`` for a signed integer ``p`` and exponent ``x`` (combinational).

    Parameters
    ----------
    int_bits : int
        Width of ``p`` (unit: bits), 2..64.
    exp_bits : int
        Width of ``x`` (unit: bits), 2..16.

    Attributes
    ----------
    p : In(signed(int_bits))  the integer significand (two's complement)
    x : In(signed(exp_bits))  the power of two (two's complement)
    f : Out(32)               binary32 bit pattern of ``p * 2^x``, rounded once (RNE)

    Domain: every ``p`` and ``x``. Results follow IEEE RNE exactly: normal, subnormal and
    zero results, overflow to +-inf. ``p = 0`` gives ``+0``. (MixPE and BitMoD use it only
    where the result is zero or normal; the wider domain costs a clamp on one shifter.)

    Latency 0 cycles. Datapath: magnitude, leading-zero count, normalize so the leading one
    is the frame's top bit, then (only for results below 2^-126) a right shift with a sticky
    bit, round and pack.
    """

    def __init__(self, int_bits: int, exp_bits: int) -> None:
        for name, value, lo, hi in (("int_bits", int_bits, 2, 64),
                                    ("exp_bits", exp_bits, 2, 16)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                self._MustUse__silence = True  # never built: no "created but never used"
                raise ValueError(f"{name} must be an int in {lo}..{hi}, not {value!r}")
        self.int_bits, self.exp_bits = operator.index(int_bits), operator.index(exp_bits)
        super().__init__({"p": In(signed(int_bits)), "x": In(signed(exp_bits)), "f": Out(32)})

    def elaborate(self, platform: object) -> Module:
        m = Module()
        n = self.int_bits
        sign = self.p[n - 1]
        mag = Signal(n, name="mag")
        m.d.comb += mag.eq(Mux(sign, -self.p, self.p))
        lz = _clz(m, mag, "lz")
        norm = Signal(n, name="norm")
        m.d.comb += norm.eq(mag << lz)
        # value = norm * 2^(x + n - 1 - lz - (n - 1)) = 1.f * 2^(x + n - 1 - lz)
        biased = Signal(signed(max(self.exp_bits, 8) + 3), name="biased")
        m.d.comb += biased.eq(self.x + (n - 1 + 127) - lz)

        # Frame: norm's leading one at the top, 26 zero bits below it: 24 significand bits,
        # a guard bit and all lower bits (sticky) are available for any n.
        frame = Cat(Const(0, 26), norm)
        width = n + 26
        tiny = Signal(range(28), name="tiny")  # extra right shift for subnormal results
        with m.If(biased < 1):
            m.d.comb += tiny.eq(Mux(biased < -26, 27, 1 - biased))
        shifted, lost = _shift_right_sticky(frame, tiny)
        top = width - 24               # lowest bit of the 24-bit significand
        field = Signal(8, name="field")
        m.d.comb += field.eq(Mux(tiny == 0, biased, 0))
        sticky = shifted[:top - 1].any() | lost
        packed = _round_pack(m, field, shifted[top:width - 1], shifted[top - 1], sticky, 23,
                             "packed")
        with m.If(mag == 0):
            m.d.comb += self.f.eq(0)
        with m.Elif((biased > 254) | (packed[23:32] >= 0xFF)):
            m.d.comb += self.f.eq(Cat(Const(FP32_INF, 31), sign))
        with m.Else():
            m.d.comb += self.f.eq(Cat(packed[:31], sign))
        return m


class Fp32ToFp16(wiring.Component):
    """IEEE binary32 -> binary16 conversion, round to nearest even (combinational).

    Attributes
    ----------
    a : In(32)   binary32 bit pattern
    h : Out(16)  binary16 bit pattern of ``fl16(a)``

    Domain: finite ``a`` and +-inf. Matches NumPy's ``astype(np.float16)``: normal and
    subnormal binary16 results, signed zeros, overflow (|a| >= 65520) to +-inf, inf to inf.
    NaN inputs are not supported (the families' FP32 sums are finite).

    Latency 0 cycles. Datapath: rebias the exponent; for results below 2^-14 a right shift
    of the 24-bit significand (clamped at 25 bits: everything sticky) with a sticky bit;
    round and pack.
    """

    a: In(32)
    h: Out(16)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        a = self.a
        exp, sign = a[23:31], a[31]
        sig = Cat(a[:23], exp != 0)               # FP32 subnormals are far below 2^-25
        half_exp = Signal(signed(10), name="half_exp")
        m.d.comb += half_exp.eq(exp - 112)         # binary16 biased exponent if normal
        # binary16 fraction = sig >> 13 when normal; subnormal: sig >> (126 - exp), clamped
        amount = Signal(range(26), name="amount")
        field = Signal(5, name="field")
        with m.If(half_exp >= 1):
            m.d.comb += [amount.eq(13), field.eq(half_exp)]
        with m.Else():
            m.d.comb += amount.eq(Mux(exp < 101, 25, 126 - exp))
        frame = Cat(Const(0, 1), sig)             # one bit below sig: the guard for any shift
        shifted, lost = _shift_right_sticky(frame, amount)
        packed = _round_pack(m, field, shifted[1:11], shifted[0], lost, 10, "packed")
        with m.If((exp == 0xFF) | (half_exp >= 31) | (packed[10:16] >= 0x1F)):
            m.d.comb += self.h.eq(Cat(Const(FP16_INF, 15), sign))
        with m.Else():
            m.d.comb += self.h.eq(Cat(packed[:15], sign))
        return m
