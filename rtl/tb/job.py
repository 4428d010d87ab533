"""A testbench job on disk: how pytest / the CLI hand tiles to a cocotb simulation.

The cocotb test runs in the simulator's process, so its inputs travel as files: a job folder
holds ``job.json`` (the design, the bench options) and ``tiles.pkl`` (the tiles, pickled: a
family's operands may be code arrays with metadata, e.g. OliVe codes with their normal type or
group weights with scales); the simulation writes ``report.json`` next to them. The folder is
written and read by the same qaccel install on the same machine. The folder is passed to the
simulator as the plusarg ``+qaccel_job=<folder>`` -- no environment variables, no
``sys.path`` edits.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qaccel.arch.pe.tile import Tile
from qaccel.rtl.controller import Design
from qaccel.rtl.tb.driver import Corruption

__all__ = ["Job", "PLUSARG", "PROGRESS_FILE"]

#: the plusarg that names the job folder
PLUSARG = "qaccel_job"
#: file in the job folder the cocotb bench rewrites after each batch ("done total mismatches")
PROGRESS_FILE = "progress"
#: the tiles of a job
TILES_FILE = "tiles.pkl"


@dataclass(frozen=True)
class Job:
    """Everything one simulation needs besides the compiled design."""

    design: Design
    tiles: tuple[Tile, ...]
    seed: int = 0
    gap: float = 0.0
    stall: float = 0.0
    corrupt: Corruption | None = None

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"design": self.design.to_dict(), "seed": self.seed,
                                "gap": self.gap, "stall": self.stall,
                                "corrupt": asdict(self.corrupt) if self.corrupt else None}
        (folder / "job.json").write_text(json.dumps(meta, indent=1))
        with (folder / TILES_FILE).open("wb") as f:
            pickle.dump(tuple(self.tiles), f, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, folder: Path) -> Job:
        meta = json.loads((folder / "job.json").read_text())
        with (folder / TILES_FILE).open("rb") as f:
            tiles = pickle.load(f)  # noqa: S301 - a job folder this process tree wrote
        corrupt = Corruption(**meta["corrupt"]) if meta["corrupt"] else None
        return cls(Design.from_dict(meta["design"]), tiles, seed=meta["seed"], gap=meta["gap"],
                   stall=meta["stall"], corrupt=corrupt)
