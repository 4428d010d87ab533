"""Lines every generated host driver carries: the result checks, the summary and ``main``.

The drivers (:func:`qaccel.rtl.fpga.drivers.pynq_driver`,
:func:`qaccel.rtl.fpga.xrt_driver.xrt_driver`) are stand-alone scripts that run on a board or
host without qaccel installed, so each generated file holds its own copy of these lines on
purpose; the generators insert them from here, so the copies cannot drift apart. Indentation
is the one the driver templates use (``run``'s body: 4 spaces, the batch loop: 8).
"""

from __future__ import annotations

__all__ = ["SUMMARY_START", "CHECK_WORDS_AND_CYCLES", "summary_end", "main_function"]

#: start of ``run``'s bookkeeping: the summary dict and ``bad``, its list of mismatches
SUMMARY_START = '''\
    summary = {"batches": 0, "tiles": 0, "words_compared": 0, "cycles_total": 0,
               "mismatches": []}
    bad = summary["mismatches"]'''

#: inside the batch loop: ``got`` against ``expected`` under ``mask``, ``cycles`` against
#: the file's golden CYCLES
CHECK_WORDS_AND_CYCLES = '''\
        differ = np.flatnonzero((got ^ expected) & mask)
        if len(differ):
            bad.append("batch %d: %d result words differ, first at word %d: %#010x != %#010x"
                       % (b, len(differ), differ[0], got[differ[0]], expected[differ[0]]))
        if cycles != int(data["cycles"][b]):
            bad.append("batch %d: CYCLES %d != %d" % (b, cycles, int(data["cycles"][b])))'''


def summary_end(script: str) -> str:
    """The end of the batch loop and of ``run``: count the batch, log one line headed
    ``script`` (and the first ten mismatches), return the summary."""
    return f'''\
        summary["batches"] += 1
        summary["tiles"] += int(data["tiles"][b])
        summary["words_compared"] += len(expected)
        summary["cycles_total"] += cycles
    summary["passed"] = not bad
    log("{script}: %d batches, %d tiles, %d result words compared, %d cycles: %s"
        % (summary["batches"], summary["tiles"], summary["words_compared"],
           summary["cycles_total"], "PASS" if not bad else "FAIL"))
    for line in bad[:10]:
        log("  " + line)
    return summary'''


def main_function(first: str, default: str, tiles_file: str) -> str:
    """``main(argv)`` (``run(<first>, tiles_file)`` from the command line, exit status 0 when
    every batch matched) and the ``__main__`` guard."""
    return f'''\
def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    {first} = args[0] if args else "{default}"
    tiles_file = args[1] if len(args) > 1 else "{tiles_file}"
    return 0 if run({first}, tiles_file)["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())'''
