"""Testbench roles shared by every family (docs/rtl.md "Verification").

:mod:`~qaccel.rtl.tb.driver` (LOAD streams, ``start``), :mod:`~qaccel.rtl.tb.monitor`
(``done``/``cycles``, DRAIN), :mod:`~qaccel.rtl.tb.model` (``golden()``/``batch_timing()``),
:mod:`~qaccel.rtl.tb.scoreboard` (in order), wired by :mod:`~qaccel.rtl.tb.bench` over a
simulator adapter (:mod:`~qaccel.rtl.tb.pins`); :mod:`~qaccel.rtl.tb.cocotb_bench` is the
cocotb test module, fed through :mod:`~qaccel.rtl.tb.job`.
"""
