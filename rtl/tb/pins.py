"""Pin access for the testbench roles, one adapter per simulator.

The driver and monitors only ever stand at a *settled point*: just after a rising clock edge,
when every register has its new value. There they read outputs, set inputs (which the next
rising edge samples) and then :meth:`tick` to the next settled point. Edges are numbered
from 0; :attr:`edge` is the number of the last edge passed.

* :class:`AmaranthPins`: Amaranth's simulator (``add_testbench``); ``tick`` is
  ``ctx.tick()``, edges are counted.
* :class:`CocotbPins`: cocotb (Verilator and Icarus); the settled point is the falling edge,
  edges are numbered from simulation time, and :meth:`wait_rise` sleeps in the simulator
  until a signal rises (no Python per cycle: this is what makes RUN free-running), then
  samples in ``ReadOnly`` (never inside the edge's callback).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Pins", "AmaranthPins", "CocotbPins", "WaitTimeout"]


class WaitTimeout(RuntimeError):
    """A signal did not rise within the allowed number of cycles."""


class Pins(Protocol):
    """What the testbench roles need from a simulator (see the module docstring)."""

    edge: int

    def set(self, name: str, value: int) -> None: ...

    def get(self, name: str) -> int:
        """The value of ``name``; raises ``AssertionError`` if any bit is X or Z."""
        ...

    def get_x(self, name: str) -> tuple[int, int]:
        """``(value with X/Z bits read as 0, mask of the X/Z bits)`` of ``name``."""
        ...

    def width(self, name: str) -> int: ...

    async def tick(self) -> None: ...

    async def wait_rise(self, name: str, limit: int) -> int:
        """Sleep until 1-bit register output ``name`` rises; return that edge's number.

        Leaves the caller just after that edge, with the registers it updated readable;
        the caller must :meth:`tick` before it sets an input (cocotb: the read-only phase).
        Raises :class:`WaitTimeout` after ``limit`` cycles (where the adapter has a cheap
        way to; :class:`CocotbPins` bounds the whole run instead).
        """
        ...


class AmaranthPins:
    """:class:`Pins` over an Amaranth ``SimulatorContext`` and the component's ports."""

    def __init__(self, ctx: Any, dut: Any) -> None:
        self._ctx, self._dut = ctx, dut
        self.edge = -1

    def set(self, name: str, value: int) -> None:
        self._ctx.set(getattr(self._dut, name), value)

    def get(self, name: str) -> int:
        return int(self._ctx.get(getattr(self._dut, name)))

    def get_x(self, name: str) -> tuple[int, int]:
        return self.get(name), 0  # two-state

    def width(self, name: str) -> int:
        return len(getattr(self._dut, name))

    async def tick(self) -> None:
        await self._ctx.tick()
        self.edge += 1

    async def wait_rise(self, name: str, limit: int) -> int:
        signal = getattr(self._dut, name)
        for _ in range(limit):
            await self.tick()
            if self._ctx.get(signal):
                return self.edge
        raise WaitTimeout(f"{name} did not rise within {limit} cycles")


class CocotbPins:
    """:class:`Pins` over a cocotb DUT handle; also owns the reset (and, if asked, the clock).

    The clock has period ``period_ns`` and starts low: rising edge ``k`` is at
    ``(k + 1/2) * period_ns``, the settled point after it at ``(k + 1) * period_ns``. The
    simulated top of :mod:`qaccel.rtl.verilator` generates exactly this clock in HDL;
    ``drive_clock=True`` starts a cocotb clock instead, for tops whose ``clk`` is an input.
    """

    def __init__(self, dut: Any, period_ns: int = 10, *, drive_clock: bool = False) -> None:
        self._dut = dut
        self._handles: dict[str, Any] = {}
        self.period_ns = period_ns
        self._drive_clock = drive_clock

    def _h(self, name: str) -> Any:
        handle = self._handles.get(name)
        if handle is None:
            handle = self._handles[name] = getattr(self._dut, name)
        return handle

    @property
    def edge(self) -> int:
        from cocotb.utils import get_sim_time

        now = get_sim_time("ns")
        return int((now - self.period_ns / 2) // self.period_ns)

    async def start(self, reset_cycles: int = 2) -> None:
        """Hold ``rst`` for ``reset_cycles`` edges; return at a settled point."""
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        clk = self._h("clk")
        if self._drive_clock:
            Clock(clk, self.period_ns, unit="ns").start(start_high=False)
        self.set("rst", 1)
        for _ in range(reset_cycles):
            await FallingEdge(clk)
        self.set("rst", 0)

    def set(self, name: str, value: int) -> None:
        self._h(name).value = value

    def get(self, name: str) -> int:
        value, unknown = self.get_x(name)
        if unknown:
            raise AssertionError(f"{name} is {self._h(name).value} (X or Z bits)")
        return value

    def get_x(self, name: str) -> tuple[int, int]:
        bits = str(self._h(name).value)  # LogicArray / Logic: MSB first, 0 1 X Z (U W L H -)
        if bits in ("0", "1"):
            return int(bits), 0
        value = int("".join("1" if b in "1H" else "0" for b in bits), 2)
        unknown = int("".join("0" if b in "01LH" else "1" for b in bits), 2)
        return value, unknown

    def width(self, name: str) -> int:
        return len(self._h(name))

    async def tick(self) -> None:
        from cocotb.triggers import FallingEdge

        await FallingEdge(self._h("clk"))

    async def wait_rise(self, name: str, limit: int) -> int:
        """As :meth:`Pins.wait_rise`, without a per-wait timer (a timer costs ~35 us of
        Python per wait; the cocotb test bounds the whole run instead, so ``limit`` is
        unused).

        The ``RisingEdge`` callback runs as soon as ``name`` changes, which may be before the
        other non-blocking assignments of the same edge have settled (Icarus: ``cycles``
        still held the previous tile's count; Verilator happens to update all registers
        first). So the registers are sampled only after ``ReadOnly()``, the end of that time
        step; from there the caller may read, but must :meth:`tick` before it sets inputs.
        """
        from cocotb.triggers import ReadOnly, RisingEdge

        await RisingEdge(self._h(name))
        await ReadOnly()
        return self.edge
