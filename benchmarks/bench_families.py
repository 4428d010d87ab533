"""Every PE family on Llama-2-7B: prefill of 256 tokens + 20 decode steps, timing + energy.

Run:  python benchmarks/bench_families.py
Target (issue 12): every family in at most 2 s on the 2-core box with the mapper on (fast
engine, timing-only); the fixed mapping (``mapping: fixed``) runs beside it in the same
process as the baseline. Each family runs its paper preset for the phase (``phase_presets`` on
its class); families without phase presets run their first shipped preset for both phases,
and families with no preset are skipped. Workload traces are built once, outside the timed
loop, and reported separately.
"""

from __future__ import annotations

import dataclasses
import time

from qaccel import sim
from qaccel.arch import PE_FAMILIES, load_accelerator, preset_names
from qaccel.arch.spec import MappingMode
from qaccel.models.workloads import build_workload
from qaccel.sim.mapper import clear_caches


def preset_for(family: str, phase: str) -> str | None:
    """The family's preset for ``phase``, else its first shipped preset, else None."""
    by_phase = PE_FAMILIES[family].phase_presets
    if phase in by_phase:
        return by_phase[phase]
    own = [n for n in preset_names() if load_accelerator(n).family == family]
    named = [n for n in own if n.startswith(family.replace("_", "-"))]  # not a paper's preset
    return (named or own or [None])[0]


def simulate(presets: list[str], traces: tuple, mode: MappingMode) -> tuple[float, float, float]:
    """(cycles, energy pJ, seconds) of the two phases on their presets, fresh mapper cache."""
    clear_caches()
    t1 = time.perf_counter()
    cycles = energy = 0.0
    for name, trace in zip(presets, traces, strict=True):
        accel = dataclasses.replace(load_accelerator(name), mapping=mode)
        tot = sim.run(trace, accel, engine="fast", values=False).totals()
        cycles += tot["total_cycles"]
        energy += tot["energy_pj_total"]
    return cycles, energy, time.perf_counter() - t1


def main() -> None:
    t0 = time.perf_counter()
    prefill = build_workload("llama-2-7b", phase="prefill", tokens=256)
    decode = build_workload("llama-2-7b", phase="decode", kv_len=256, steps=20)
    t_build = time.perf_counter() - t0
    print(f"workloads built in {t_build:.2f} s: prefill {len(prefill)} layers, "
          f"decode {len(decode)} layers (20 steps)")
    print(f"{'family':<14}{'preset (prefill / decode)':<36}{'mapped cycles':>16}"
          f"{'fixed cycles':>16}{'fixed/mapped':>13}{'mJ':>9}{'mapped s':>10}{'fixed s':>9}")
    total = {MappingMode.AUTO: 0.0, MappingMode.FIXED: 0.0}
    for family in sorted(PE_FAMILIES):
        presets = [preset_for(family, phase) for phase in ("prefill", "decode")]
        if None in presets:
            print(f"{family:<14}(no preset: skipped)")
            continue
        auto = simulate(presets, (prefill, decode), MappingMode.AUTO)
        fixed = simulate(presets, (prefill, decode), MappingMode.FIXED)
        total[MappingMode.AUTO] += auto[2]
        total[MappingMode.FIXED] += fixed[2]
        print(f"{family:<14}{' / '.join(presets):<36}{int(auto[0]):>16,}{int(fixed[0]):>16,}"
              f"{fixed[0] / auto[0]:>13.2f}{auto[1] / 1e9:>9.2f}{auto[2]:>10.2f}{fixed[2]:>9.2f}")
    print(f"all families: mapper on {total[MappingMode.AUTO]:.2f} s, fixed mapping "
          f"{total[MappingMode.FIXED]:.2f} s simulating (+ {t_build:.2f} s building the traces "
          f"once); target <= 2 s with the mapper on")


if __name__ == "__main__":
    main()
