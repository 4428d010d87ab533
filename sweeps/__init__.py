"""Design-space sweeps: strict YAML specs, a resumable runner, Pareto fronts and plots.

>>> from qaccel import sweeps                                               # doctest: +SKIP
>>> spec = sweeps.load_spec("sweeps/examples/resnet50-int8-systolic.yaml")
>>> sweeps.run_sweep(spec, "out/resnet50")            # local processes; dask=ADDRESS|Client
>>> spec, df = sweeps.load_sweep("out/resnet50")      # rows + a "feasible" column
>>> sweeps.fronts(df, spec.objectives)                # Pareto front per workload

Modules: ``spec`` (format, validation), ``axes``, ``workloads``, ``sampling``, ``plan``
(points and their content hashes), ``evaluate`` (what a worker runs), ``metrics`` (columns
beyond the simulation totals), ``executors`` (local processes, Dask), ``store`` (the output
folder), ``runner``, ``analysis``, ``pareto``, ``plots``, ``columns`` (names and units).
"""

from qaccel.sweeps.analysis import SweepStatus, feasible, fronts, load_sweep, sweep_status
from qaccel.sweeps.pareto import pareto_front, pareto_mask
from qaccel.sweeps.plan import Plan, plan_sweep, point_id
from qaccel.sweeps.runner import RunSummary, run_sweep
from qaccel.sweeps.spec import (
    Constraint,
    Goal,
    Method,
    Objective,
    OnInvalid,
    PlotSpec,
    Sampling,
    SweepSpec,
    load_spec,
)
from qaccel.sweeps.workloads import ShapeLayer, Workload

__all__ = ["Constraint", "Goal", "Method", "Objective", "OnInvalid", "Plan", "PlotSpec",
           "RunSummary", "Sampling", "ShapeLayer", "SweepSpec", "SweepStatus", "Workload",
           "feasible", "fronts", "load_spec", "load_sweep", "pareto_front", "pareto_mask",
           "plan_sweep", "point_id", "run_sweep", "sweep_status"]
