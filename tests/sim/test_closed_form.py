"""sim/fast/closed_form.py hot-path shortcuts against plain second implementations: a fold's
events from its shape alone equal the family's events of a real zero tile; compute cycles
(one ``fold_cycles_of`` per chunk length for families with the default) equal the sum over
every fold of the grid, folded one by one."""

from __future__ import annotations

import numpy as np
import pytest

from qaccel.arch import load_accelerator, preset_names
from qaccel.arch.pe.tile import Tile
from qaccel.sim.fast.closed_form import clear_caches, gemm_cycles, tile_events
from qaccel.sim.plan import LoopOrder, Mapping, plan_gemm
from tests.conftest import make_accel

#: one array per preset and dataflow: every family and mode the presets ship
ARRAYS = {(name, flow.value): load_accelerator(name).pe_array.with_dataflow(flow)
          for name in preset_names() for flow in load_accelerator(name).pe_array.dataflows}
SHAPES = [(1, 1, 1), (3, 200, 5), (32, 4096, 32), (17, 129, 64)]


@pytest.mark.parametrize("key", sorted(ARRAYS), ids="/".join)
def test_shape_events_are_the_tile_events(key):
    pe = ARRAYS[key]
    clear_caches()
    for m, k, n in SHAPES:
        tile = Tile(np.zeros((m, k), np.int8), np.zeros((k, n), np.int8))
        assert dict(tile_events(pe, m, k, n)) == pe.events(tile)


def _cycles_fold_by_fold(pe, plan):
    """Every fold of the grid in order, each ``fold_cycles_of`` its own tile; with
    overlapped preload every fold but the first hides its preload."""
    extents = {d: [min(s, plan.dims[d] - i) for i in range(0, plan.dims[d], s)]
               for d, s in ((plan.row_dim, plan.rows), (plan.col_dim, plan.cols),
                            (plan.stream_dim, plan.tile))}
    total, first = 0, True
    for t in extents[plan.stream_dim]:
        for c in extents[plan.col_dim]:
            for r in extents[plan.row_dim]:
                dims = {plan.row_dim: r, plan.col_dim: c, plan.stream_dim: t}
                total += pe.fold_cycles_of(dims["M"], dims["K"], dims["N"],
                                           overlapped=pe.hides_preload and not first)
                first = False
    return total


@pytest.mark.parametrize("flow", ["ws", "os", "is"])
@pytest.mark.parametrize("preload", ["serial", "overlapped"])
@pytest.mark.parametrize("shape, tile", [((70, 45, 33), 16), ((8, 8, 8), 8), ((5, 3, 2), 2)])
def test_gemm_cycles_fold_by_fold(flow, preload, shape, tile):
    accel = make_accel(rows=8, cols=4, dataflow=flow, preload=preload)
    pe = accel.pe_array
    stream = pe.mapping[2]
    dims = dict(zip("MKN", shape, strict=True))
    for t in (dims[stream], tile):
        plan = plan_gemm(accel, *shape, Mapping(pe.dataflow, LoopOrder.COLS_OUTER, t))
        clear_caches()
        assert gemm_cycles(pe, plan) == _cycles_fold_by_fold(pe, plan)
