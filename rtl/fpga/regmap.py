"""The one register map of the FPGA shells, and the one stream word format.

Everything that talks to the shell reads these definitions: the AXI4-Lite slave
(:mod:`qaccel.rtl.fpga.shell`) decodes :data:`REGISTERS`, the generated host drivers embed
their offsets, the Vivado/Vitis scripts (``ipx::add_register``) and the simulation ``.hwh``
list them, and docs/fpga.md prints :func:`markdown_table`. Offsets are byte addresses of
32-bit registers on ``s_axi_control``.

CTRL follows Vitis' ``ap_ctrl_hs``: write ``AP_START`` to run the loaded batch; ``AP_DONE``
(clear on read) and ``AP_READY`` (clear on read) rise when the batch has been drained,
``AP_IDLE`` is high whenever no batch is running. GIE/IER/ISR are Vitis' interrupt
registers (ISR bits toggle on write, the ``interrupt`` port is ``GIE & |(IER & ISR)``).

Stream word format
------------------
The AXI4-Stream side is :data:`STREAM_WORD_BITS` (32) bits wide. A beat of an array-top
port that is ``width`` bits wide travels as :func:`beat_words` ``(width)`` words, little
endian, holding ``data | last << width`` (``last``: the port's ``*_last``). ``m_axis``
raises TLAST on the last word of the batch's last result row.

Memory image (``maxi``)
-----------------------
The U280 kernel fetches LENGTH words from IN_PTR itself, so the input buffer says which
port each word is for: it is a sequence of segments, each one header word
(:func:`segment_header`: ``stream code << 28 | words``, the code being the stream's index in
:data:`STREAMS`) followed by that many stream words in the format above. The kernel writes
the result words, in the ``m_axis`` format, to OUT_PTR one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bit", "Register", "REGISTERS", "STREAMS", "STREAM_WORD_BITS", "SHELL_KINDS",
           "registers", "offset", "beat_words", "pack_beat", "unpack_beat", "markdown_table",
           "address_bits", "span_bytes", "segment_header", "SEGMENT_WORDS_BITS",
           "parse_segments"]

#: width of ``s_axis_tdata`` / ``m_axis_tdata`` (unit: bits); the AXI DMA's stream width
STREAM_WORD_BITS = 32
#: the input streams STREAM selects, by the value written (``m``: metadata, families with it)
STREAMS = ("w", "m", "a")
#: shells: ``axis`` (PYNQ-Z2, ULX3S: streams fed by a DMA) and ``maxi`` (U280: the kernel
#: fetches from memory itself through ``m_axi_gmem``)
SHELL_KINDS = ("axis", "maxi")
#: bits of a segment header that count its words (the stream code sits above them)
SEGMENT_WORDS_BITS = 28


@dataclass(frozen=True)
class Bit:
    """A named bit field of a register: bits ``[lsb, lsb + width)``."""

    name: str
    lsb: int
    width: int = 1
    description: str = ""


@dataclass(frozen=True)
class Register:
    """One 32-bit register of ``s_axi_control`` at byte ``offset``.

    ``access``: ``RW``, ``RO``, ``RW/COR`` (CTRL: AP_START written, AP_DONE/AP_READY clear
    on read) or ``TOW`` (toggle on write); ``kinds``: the shells that have it.
    """

    name: str
    offset: int
    access: str
    description: str
    bits: tuple[Bit, ...] = ()
    kinds: tuple[str, ...] = SHELL_KINDS

    def field(self, name: str) -> Bit:
        for bit in self.bits:
            if bit.name == name:
                return bit
        raise KeyError(f"register {self.name} has no field {name!r}")


REGISTERS: tuple[Register, ...] = (
    Register("CTRL", 0x00, "RW/COR", "block-level control (Vitis ap_ctrl_hs)", (
        Bit("AP_START", 0, 1, "write 1: run the loaded batch; reads 1 until accepted"),
        Bit("AP_DONE", 1, 1, "the batch has been drained (clear on read)"),
        Bit("AP_IDLE", 2, 1, "no batch running"),
        Bit("AP_READY", 3, 1, "AP_START was accepted and the batch finished (clear on read)"),
    )),
    Register("GIE", 0x04, "RW", "global interrupt enable", (Bit("ENABLE", 0),)),
    Register("IER", 0x08, "RW", "interrupt enable", (Bit("AP_DONE", 0), Bit("AP_READY", 1))),
    Register("ISR", 0x0C, "TOW", "interrupt status (write 1 toggles)",
             (Bit("AP_DONE", 0), Bit("AP_READY", 1))),
    Register("STREAM", 0x10, "RW", "input stream select: 0 w_* (stationary/column operand), "
             "1 m_* (metadata), 2 a_* (streamed operand)", (Bit("SEL", 0, 2),),
             kinds=("axis",)),
    Register("LENGTH", 0x14, "RW", "axis: 32-bit words accepted on s_axis since the last run "
             "ended (read only); maxi: 32-bit words to fetch from IN_PTR",
             (Bit("WORDS", 0, 32),)),
    Register("CYCLES", 0x18, "RO", "sum of the array top's `cycles` over the tiles of the last "
             "batch (start->done per tile; = timing() of a one-tile batch)",
             (Bit("CYCLES", 0, 32),)),
    Register("TILES", 0x1C, "RO", "tiles in the batch (a_* beats with the last flag received; "
             "axis: since the last run ended, maxi: fetched by the last run)",
             (Bit("TILES", 0, 32),)),
    Register("IN_PTR_LO", 0x20, "RW", "input buffer address, low word", (Bit("ADDR", 0, 32),),
             kinds=("maxi",)),
    Register("IN_PTR_HI", 0x24, "RW", "input buffer address, high word", (Bit("ADDR", 0, 32),),
             kinds=("maxi",)),
    Register("OUT_PTR_LO", 0x28, "RW", "result buffer address, low word",
             (Bit("ADDR", 0, 32),), kinds=("maxi",)),
    Register("OUT_PTR_HI", 0x2C, "RW", "result buffer address, high word",
             (Bit("ADDR", 0, 32),), kinds=("maxi",)),
)


def registers(kind: str = "axis") -> tuple[Register, ...]:
    """The registers of shell ``kind`` (see :data:`SHELL_KINDS`), by offset."""
    if kind not in SHELL_KINDS:
        raise ValueError(f"shell kind must be one of {', '.join(SHELL_KINDS)}, not {kind!r}")
    return tuple(r for r in REGISTERS if kind in r.kinds)


def offset(name: str) -> int:
    """Byte offset of register ``name``."""
    for reg in REGISTERS:
        if reg.name == name:
            return reg.offset
    raise KeyError(f"no register named {name!r}")


def span_bytes(kind: str = "axis") -> int:
    """Bytes the register file decodes (a power of two, at least 64)."""
    top = max(r.offset for r in registers(kind)) + 4
    return max(64, 1 << (top - 1).bit_length())


def address_bits(kind: str = "axis") -> int:
    """Width of ``s_axi_control_awaddr`` / ``araddr`` (unit: bits)."""
    return (span_bytes(kind) - 1).bit_length()


def beat_words(width: int) -> int:
    """32-bit stream words that carry one beat of a ``width``-bit port and its last flag."""
    if width < 1:
        raise ValueError(f"port width must be >= 1 bit, not {width!r}")
    return -(-(width + 1) // STREAM_WORD_BITS)


def pack_beat(data: int, last: bool, width: int) -> list[int]:
    """The stream words of one beat (see the module docstring)."""
    if not 0 <= data < 1 << width:
        raise ValueError(f"beat data must fit {width} bits unsigned, not {data:#x}")
    value = data | (int(bool(last)) << width)
    mask = (1 << STREAM_WORD_BITS) - 1
    return [(value >> (STREAM_WORD_BITS * i)) & mask for i in range(beat_words(width))]


def unpack_beat(words: list[int], width: int) -> tuple[int, bool]:
    """``(data, last)`` of one beat's stream words."""
    if len(words) != beat_words(width):
        raise ValueError(f"a {width}-bit beat is {beat_words(width)} words, not {len(words)}")
    value = sum(int(w) << (STREAM_WORD_BITS * i) for i, w in enumerate(words))
    return value & ((1 << width) - 1), bool((value >> width) & 1)


def segment_header(stream: str, words: int) -> int:
    """The header word of a memory-image segment of ``words`` words for ``stream``."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, not {stream!r}")
    if not 0 <= words < 1 << SEGMENT_WORDS_BITS:
        raise ValueError(f"segment words must be in [0, 2**{SEGMENT_WORDS_BITS}), not {words!r}")
    return STREAMS.index(stream) << SEGMENT_WORDS_BITS | words


def parse_segments(image: list[int]) -> list[tuple[str, list[int]]]:
    """``(stream, words)`` of each segment of a memory image (the inverse of the headers)."""
    out, i = [], 0
    while i < len(image):
        code, count = image[i] >> SEGMENT_WORDS_BITS, image[i] & ((1 << SEGMENT_WORDS_BITS) - 1)
        if code >= len(STREAMS) or i + 1 + count > len(image):
            raise ValueError(f"word {i} is not a segment header of this image: {image[i]:#010x}")
        out.append((STREAMS[code], list(image[i + 1:i + 1 + count])))
        i += 1 + count
    return out


def markdown_table(kind: str | None = None) -> str:
    """The register map as a Markdown table (docs/fpga.md), all shells or one ``kind``."""
    rows = ["| offset | register | access | shells | bits | description |",
            "|---|---|---|---|---|---|"]
    for reg in REGISTERS if kind is None else registers(kind):
        bits = ", ".join(f"{b.name}[{b.lsb}]" if b.width == 1
                         else f"{b.name}[{b.lsb + b.width - 1}:{b.lsb}]" for b in reg.bits)
        rows.append(f"| 0x{reg.offset:02X} | {reg.name} | {reg.access} | "
                    f"{' '.join(reg.kinds)} | {bits} | {reg.description} |")
    return "\n".join(rows) + "\n"
