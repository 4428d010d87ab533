"""A small stand-in for XRT's ``pyxrt`` that runs a U280 driver against the simulation.

Only the calls ``qaccel_xrt.py`` makes exist, with pyxrt's names and argument order:
``device(index)``, ``xclbin(path)``, ``device.load_xclbin``, ``kernel(device, uuid, name,
mode)`` with ``group_id``, ``read_register``, ``write_register`` and ``__call__`` (returning
a ``run`` with ``wait``), ``bo(device, size, flags, group)`` with ``write``, ``read``,
``sync`` and ``address``, and the enums ``xclBOSyncDirection``, ``ert_cmd_state``.

Everything is forwarded to one cocotb simulation that :func:`attach` names: register
accesses become AXI4-Lite transfers on the kernel's ``s_axi_control`` (through cocotb's
``resume``, since the driver runs in a bridged thread), ``bo.sync`` copies between the
host-side buffer and the ``AxiRam`` behind ``m_axi_gmem`` (the HBM). Calling the kernel
does what XRT does for an ``ap_ctrl_hs`` kernel: write each argument at its offset (a
buffer as its 64-bit device address, low word first), write AP_START; ``run.wait`` polls
CTRL until AP_DONE. The "xclbin" is the plan's simulation description
(:func:`qaccel.rtl.fpga.vitis.sim_xclbin`: the kernel's arguments and memory bank).
The test binds this module as ``pyxrt`` in ``sys.modules`` inside the simulation.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["attach", "device", "xclbin", "kernel", "bo", "run", "xclBOSyncDirection",
           "ert_cmd_state", "AP_START", "AP_DONE", "POLL_LIMIT", "BO_ALIGN"]

#: CTRL bits (ap_ctrl_hs)
AP_START, AP_DONE = 0x1, 0x2
#: CTRL polls before a run counts as timed out
POLL_LIMIT = 200_000
#: buffer objects are aligned like XRT's (unit: bytes)
BO_ALIGN = 4096


@dataclass
class _Sim:
    axil: Any
    ram: Any
    resume: Any

    def write_register(self, offset: int, value: int) -> None:
        self.resume(self.axil.write_dword)(offset, value & 0xFFFF_FFFF)

    def read_register(self, offset: int) -> int:
        return int(self.resume(self.axil.read_dword)(offset))


_SIM: _Sim | None = None


def attach(axil: Any, ram: Any, resume: Any) -> None:
    """Forward to this simulation: an ``AxiLiteMaster`` on ``s_axi_control``, the ``AxiRam``
    behind ``m_axi_gmem``, and cocotb's ``resume`` (blocking calls from the driver)."""
    global _SIM
    _SIM = _Sim(axil, ram, resume)


def _sim() -> _Sim:
    if _SIM is None:
        raise RuntimeError("Cannot reach the device because no simulation is attached "
                           "(pyxrt_standin.attach)")
    return _SIM


class xclBOSyncDirection(enum.IntEnum):  # noqa: N801 - pyxrt's name
    XCL_BO_SYNC_BO_TO_DEVICE = 0
    XCL_BO_SYNC_BO_FROM_DEVICE = 1


class ert_cmd_state(enum.IntEnum):  # noqa: N801 - pyxrt's name
    ERT_CMD_STATE_NEW = 1
    ERT_CMD_STATE_QUEUED = 2
    ERT_CMD_STATE_RUNNING = 3
    ERT_CMD_STATE_COMPLETED = 4
    ERT_CMD_STATE_TIMEOUT = 11


class xclbin:  # noqa: N801 - pyxrt's name
    """The simulation xclbin description (JSON) at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.meta = json.loads(self.path.read_text())

    def get_uuid(self) -> str:
        return self.meta["uuid"]


class device:  # noqa: N801 - pyxrt's name
    """Device ``index`` (only 0: the simulation)."""

    def __init__(self, index: int = 0) -> None:
        if index != 0:
            raise RuntimeError(f"device index must be 0 (the simulation), not {index!r}")
        self.loaded: xclbin | None = None
        self.next_address: dict[str, int] = {}

    def load_xclbin(self, image: xclbin | str) -> str:
        self.loaded = image if isinstance(image, xclbin) else xclbin(image)
        self.next_address = {m["tag"]: m["base_address"]
                             for m in self.loaded.meta["mem_topology"]}
        return self.loaded.get_uuid()

    def _bank(self, group: int) -> dict[str, Any]:
        assert self.loaded is not None
        return self.loaded.meta["mem_topology"][group]

    def _allocate(self, group: int, size: int) -> int:
        bank = self._bank(group)
        address = self.next_address[bank["tag"]]
        end = address + -(-size // BO_ALIGN) * BO_ALIGN
        if end > bank["base_address"] + bank["size_bytes"]:
            raise RuntimeError(f"Cannot allocate {size} bytes because {bank['tag']} is full")
        self.next_address[bank["tag"]] = end
        return address


class bo:  # noqa: N801 - pyxrt's name
    """A buffer object: host memory plus a device address in bank ``group``."""

    normal = 0

    def __init__(self, dev: device, size: int, flags: int, group: int) -> None:
        self.size = int(size)
        self.host = bytearray(self.size)
        self.device_address = dev._allocate(group, self.size)

    def address(self) -> int:
        return self.device_address

    def write(self, data: Any, seek: int) -> None:
        raw = memoryview(np.ascontiguousarray(data)).cast("B")
        if seek + len(raw) > self.size:
            raise ValueError(f"write of {len(raw)} bytes at {seek} past the {self.size}-byte bo")
        self.host[seek:seek + len(raw)] = raw

    def read(self, size: int, skip: int) -> np.ndarray:
        return np.frombuffer(bytes(self.host[skip:skip + size]), dtype=np.int8)

    def sync(self, direction: xclBOSyncDirection, size: int, offset: int) -> None:
        ram = _sim().ram
        if direction == xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE:
            ram.write(self.device_address + offset, bytes(self.host[offset:offset + size]))
        else:
            self.host[offset:offset + size] = ram.read(self.device_address + offset, size)


class run:  # noqa: N801 - pyxrt's name
    """One started kernel run."""

    def __init__(self, krnl: kernel) -> None:
        self.kernel = krnl
        self._state = ert_cmd_state.ERT_CMD_STATE_RUNNING

    def wait(self, timeout_ms: int = 0) -> ert_cmd_state:
        ctrl = self.kernel.registers["CTRL"]
        for _ in range(POLL_LIMIT):
            if _sim().read_register(ctrl) & AP_DONE:
                self._state = ert_cmd_state.ERT_CMD_STATE_COMPLETED
                break
        else:
            self._state = ert_cmd_state.ERT_CMD_STATE_TIMEOUT
        return self._state

    def state(self) -> ert_cmd_state:
        return self._state


class kernel:  # noqa: N801 - pyxrt's name
    """Kernel ``name`` of the loaded xclbin ``uuid``."""

    class cu_access_mode(enum.IntEnum):  # noqa: N801 - pyxrt's name
        exclusive = 0
        shared = 1

    def __init__(self, dev: device, uuid: str, name: str, mode: Any = None) -> None:
        if dev.loaded is None or dev.loaded.get_uuid() != uuid:
            raise RuntimeError(f"xclbin {uuid!r} is not loaded on the device")
        found = [k for k in dev.loaded.meta["kernels"] if k["name"] == name]
        if not found:
            raise RuntimeError(f"kernel {name!r} is not in xclbin {uuid!r}")
        self.meta = found[0]
        self.registers: dict[str, int] = self.meta["registers"]
        self.exclusive = mode == kernel.cu_access_mode.exclusive
        self.tags = [m["tag"] for m in dev.loaded.meta["mem_topology"]]

    def group_id(self, index: int) -> int:
        arg = self.meta["args"][index]
        if not arg["buffer"]:
            raise RuntimeError(f"argument {index} ({arg['name']}) is not a buffer")
        return self.tags.index(arg["memory"])

    def read_register(self, offset: int) -> int:
        if not self.exclusive:
            raise RuntimeError("read_register needs exclusive access to the compute unit")
        return _sim().read_register(offset)

    def write_register(self, offset: int, value: int) -> None:
        if not self.exclusive:
            raise RuntimeError("write_register needs exclusive access to the compute unit")
        _sim().write_register(offset, value)

    def __call__(self, *args: Any) -> run:
        spec = self.meta["args"]
        if len(args) != len(spec):
            raise TypeError(f"kernel {self.meta['name']} takes {len(spec)} arguments "
                            f"({', '.join(a['name'] for a in spec)}), not {len(args)}")
        sim = _sim()
        for value, arg in zip(args, spec, strict=True):
            number = value.address() if arg["buffer"] else int(value)
            for word in range(arg["size_bytes"] // 4):
                sim.write_register(arg["offset"] + 4 * word, number >> (32 * word))
        sim.write_register(self.registers["CTRL"], AP_START)
        return run(self)
