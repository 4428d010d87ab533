"""An on-chip buffer as the reference engine sees it: whole blocks, least recently used out.

Blocks larger than the buffer's reuse capacity stream through: they flush the buffer and are
not kept. Dirty blocks (partial sums) are written back to DRAM when evicted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["LruBuffer"]


class LruBuffer:
    """Residency of blocks in one buffer; counts the DRAM bits its misses and spills cost."""

    def __init__(self, capacity_bits: int) -> None:
        self.capacity_bits = capacity_bits
        self._blocks: OrderedDict[Hashable, tuple[int, bool]] = OrderedDict()  # key -> size, dirty
        self._used = 0
        self.dram_read_bits = 0
        self.dram_write_bits = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._blocks

    def _evict_oldest(self) -> None:
        _, (size, dirty) = self._blocks.popitem(last=False)
        self._used -= size
        if dirty:
            self.dram_write_bits += size

    def _make_room(self, size: int) -> None:
        while self._blocks and self._used + size > self.capacity_bits:
            self._evict_oldest()

    def read(self, key: Hashable, size_bits: int) -> bool:
        """Use an input block; fetch it from DRAM on a miss. Returns True on a hit."""
        if key in self._blocks:
            self._blocks.move_to_end(key)
            return True
        self.dram_read_bits += size_bits
        self._make_room(size_bits)
        if size_bits <= self.capacity_bits:
            self._blocks[key] = (size_bits, False)
            self._used += size_bits
        return False

    def accumulate(self, key: Hashable, size_bits: int, first: bool) -> None:
        """Add a fold's partial sums into block ``key`` (``first``: nothing to add to yet).

        A missing, non-first block is read back from DRAM (it was spilled). A block too
        large to keep is written back right away.
        """
        if key in self._blocks:
            self._blocks.move_to_end(key)
            self._blocks[key] = (size_bits, True)
            return
        if not first:
            self.dram_read_bits += size_bits
        self._make_room(size_bits)
        if size_bits <= self.capacity_bits:
            self._blocks[key] = (size_bits, True)
            self._used += size_bits
        else:
            self.dram_write_bits += size_bits

    def write_back(self, key: Hashable) -> int:
        """A block is final: write it to DRAM now (if still held) and drop it. Returns bits."""
        if key not in self._blocks:
            return 0
        size, dirty = self._blocks.pop(key)
        self._used -= size
        if dirty:
            self.dram_write_bits += size
            return size
        return 0
