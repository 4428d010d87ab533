"""Every PE family on Llama-2-7B: prefill of 256 tokens + 20 decode steps, timing + energy.

Run:  python benchmarks/bench_families.py
Target (DESIGN.md): all seven families in under 10 s total on 2 cores (fast engine,
timing-only). Each family runs its paper preset for the phase (``<family>-prefill`` /
``<family>-decode``); families without phase presets use the preset named in ``FALLBACK``.
Workload traces are built once, outside the timed loop, and reported separately.
"""

from __future__ import annotations

import time

from qaccel import sim
from qaccel.arch import PE_FAMILIES, load_accelerator, preset_names
from qaccel.models.workloads import build_workload

#: families whose presets are not per phase (source of each in its YAML)
FALLBACK = {"mixpe": "mixpe-w4a8", "bitfusion": None, "systolic_int8": "systolic-int8-128x128"}


def preset_for(family: str, phase: str) -> str | None:
    name = f"{family}-{phase}"
    return name if name in preset_names() else FALLBACK.get(family)


def main() -> None:
    t0 = time.perf_counter()
    prefill = build_workload("llama-2-7b", phase="prefill", tokens=256)
    decode = build_workload("llama-2-7b", phase="decode", kv_len=256, steps=20)
    t_build = time.perf_counter() - t0
    print(f"workloads built in {t_build:.2f} s: prefill {len(prefill)} layers, "
          f"decode {len(decode)} layers (20 steps)")
    print(f"{'family':<14}{'preset (prefill / decode)':<40}{'cycles':>16}{'energy mJ':>12}"
          f"{'sim s':>8}")
    total = 0.0
    for family in sorted(PE_FAMILIES):
        presets = [preset_for(family, phase) for phase in ("prefill", "decode")]
        if None in presets:
            print(f"{family:<14}(no preset: skipped)")
            continue
        t1 = time.perf_counter()
        cycles = energy = 0.0
        for name, trace in zip(presets, (prefill, decode), strict=True):
            tot = sim.run(trace, load_accelerator(name), engine="fast", values=False).totals()
            cycles += tot["total_cycles"]
            energy += tot["energy_pj_total"]
        dt = time.perf_counter() - t1
        total += dt
        print(f"{family:<14}{' / '.join(presets):<40}{int(cycles):>16,}{energy / 1e9:>12.2f}"
              f"{dt:>8.2f}")
    print(f"all families: {total:.2f} s simulating (+ {t_build:.2f} s building the traces once)")


if __name__ == "__main__":
    main()
