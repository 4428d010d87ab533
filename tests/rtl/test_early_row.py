"""``CoreSpec.a_early``: the edge decoder and PE(0,0)'s multiply-add are in different cycles.

Issue 18 (timing view): the olive / ant top closed 14 % below its core because one path ran
from the controller's last register before the core through the streamed-row decoder into
PE(0,0)'s multiplier. Cores that take the row a cycle early register the decoded row
themselves. The check is structural, on the Verilog Amaranth writes, with yosys: the
combinational output cone of the core's ``a_row`` port (``%coe*``, stopping at flip-flops)
must hold no multiplier. The overlapped-preload core (no ``a_early``) still has that path,
which shows the check can fail. Cycle equality is the case tables' job (tests/rtl/test_olive.py,
test_ant.py, test_icarus.py, test_netlist.py run the a_early cores bit- and cycle-exact).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from amaranth.back import verilog

from qaccel.arch.pe.ant import AntArray
from qaccel.arch.pe.olive import OliVeArray
from qaccel.arch.spec import Dataflow, Preload
from qaccel.rtl.core import CoreSpec
from qaccel.rtl.pe import ant as ant_rtl
from qaccel.rtl.pe import olive as olive_rtl
from qaccel.rtl.synth import _yosys

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def _multipliers_after_a_row(core: object) -> int:
    """Multipliers ($mul cells) reachable from ``a_row`` through combinational cells only."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "core.v").write_text(verilog.convert(core, name="core", emit_src=False))
        # memory: the decoders' ROMs become logic, which %coe follows; -purge: alias names
        _yosys("read_verilog core.v\nhierarchy -top core\nproc\nflatten\nmemory\n"
               "opt_clean -purge\n"
               "select -set cone w:a_row %coe*\n"
               "tee -o count.txt select -count @cone t:$mul %i\n", folder)
        text = (folder / "count.txt").read_text()
    return int(text.split()[-2])


@pytest.mark.parametrize("make", [
    lambda preload: olive_rtl.create_core(OliVeArray(rows=4, cols=2, dataflow=Dataflow.WS,
                                                     bits=4, preload=preload)),
    lambda preload: ant_rtl.create_core(AntArray(rows=2, cols=2, dataflow=Dataflow.WS,
                                                 preload=preload)),
], ids=["olive", "ant"])
def test_decoded_row_is_registered_before_the_first_multiplier(make: object) -> None:
    early = make(Preload.SERIAL)
    assert early.spec.a_early
    assert _multipliers_after_a_row(early) == 0
    # the overlapped-preload core takes the row in its own cycle: decoder -> PE(0,0) MAC
    late = make(Preload.OVERLAPPED)
    assert not late.spec.a_early
    assert _multipliers_after_a_row(late) >= 1


@pytest.mark.parametrize(("fields", "what"), [
    ({"rows": 1}, "rows=1"),
    ({"shadow": True}, "shadow=True"),
    ({"schedule": "os", "beat_cycles": 1}, "schedule='os'"),
])
def test_a_early_needs_a_serial_ws_core_of_two_rows(fields: dict, what: str) -> None:
    base = {"rows": 2, "cols": 2, "w_word_bits": 4, "a_word_bits": 4, "acc_bits": 8}
    with pytest.raises(ValueError, match=f"a_early needs the ws schedule.*{what}"):
        CoreSpec(**{**base, **fields, "a_early": True})
