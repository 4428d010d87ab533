"""Published per-PE figures a family cites (area, energy), declared on the family's class
(``PEArray.published_area`` / ``published_energy``) and read by ``qaccel rtl synth`` and the
docs, so no family's numbers live in another module."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PublishedArea", "PublishedEnergy"]


@dataclass(frozen=True)
class PublishedArea:
    """An area a paper (or its authors' simulator) reports: ``um2`` (unit: µm²) at ``node_nm``
    for ``unit`` (``"PE"``, or an edge unit's name such as ``"pair decoder"``)."""

    um2: float
    node_nm: int
    what: str
    source: str
    unit: str = "PE"


@dataclass(frozen=True)
class PublishedEnergy:
    """A PE energy a paper reports (unit: pJ per busy cycle) at ``node_nm`` and ``clock_mhz``."""

    pj_per_cycle: float
    node_nm: int
    clock_mhz: float
    source: str
