"""sim/plan.py: the fold plan ``plan_on`` builds without the dataclass ``__init__`` (the hot
path) is the plan ``FoldPlan(...)`` builds, and its derived sizes match hand arithmetic."""

from __future__ import annotations

import dataclasses

import pytest

from qaccel.arch.spec import Dataflow
from qaccel.sim.plan import FoldPlan, LoopOrder, Mapping, plan_gemm
from tests.conftest import make_accel

DERIVED = ("dims", "streamed", "tile", "chunks", "row_blocks", "col_blocks", "folds",
           "row_sizes", "col_sizes", "stream_sizes", "rows_first", "chunk_inside")


@pytest.mark.parametrize("flow", ["ws", "os", "is"])
@pytest.mark.parametrize("order", list(LoopOrder))
def test_fast_plan_is_the_init_plan(flow, order):
    accel = make_accel(rows=4, cols=8, dataflow=flow)
    plan = plan_gemm(accel, 30, 21, 17, Mapping(Dataflow(flow), order, 5))
    again = FoldPlan(**{f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)})
    assert plan == again and repr(plan) == repr(again)
    assert {k: getattr(plan, k) for k in DERIVED} == {k: getattr(again, k) for k in DERIVED}
    assert list(vars(plan)) == list(vars(again))


def test_derived_sizes_by_hand():
    # ws on 32 x 32: K=70 on the rows (2 blocks of 32 + 6), N=50 on the cols (32 + 18),
    # M=100 streamed, untiled (fixed mapping): one chunk of 100
    plan = plan_gemm(make_accel(rows=32, cols=32, dataflow="ws"), 100, 70, 50)
    assert (plan.row_dim, plan.col_dim, plan.stream_dim) == ("K", "N", "M")
    assert plan.row_sizes == ((32, 2), (6, 1)) and plan.col_sizes == ((32, 1), (18, 1))
    assert plan.stream_sizes == ((100, 1),)
    assert (plan.row_blocks, plan.col_blocks, plan.folds, plan.chunks) == (3, 2, 6, 1)
    assert plan.sizes("K") == plan.row_sizes and plan.sizes("M") == plan.stream_sizes
    # os with a K split of 16 over K=40: chunks 16, 16, 8; rows_outer: row blocks outer
    plan = plan_gemm(make_accel(rows=32, cols=32, dataflow="os"), 100, 40, 50,
                     Mapping(Dataflow.OS, LoopOrder.ROWS_OUTER, 16))
    assert plan.stream_sizes == ((16, 2), (8, 1)) and (plan.tile, plan.chunks) == (16, 3)
    assert (plan.rows_first, plan.chunk_inside) == (True, False)
