"""Run a generated Vivado / Vitis TCL script in plain ``tclsh``, recording every vendor call.

The harness defines an ``unknown`` procedure (TCL calls it for every command it does not
know, i.e. every Vivado command) that appends the call to a log and answers the way the
script needs to go on: ``get_ipdefs`` returns one VLNV at :data:`FAKE_IP_VERSION` (a version
no script may contain, so a recorded ``-vlnv`` proves it was looked up), ``get_*`` queries
return the names they were asked for, ``get_property offset`` returns the value last set,
and the calls that make files in Vivado (``create_project``, ``create_bd_design``,
``make_wrapper``, ``launch_runs``; for the Vitis scripts ``ipx::save_core`` writes
``component.xml`` under ``ipx::package_project -root_dir`` and ``package_xo`` its
``-xo_path``) create empty stand-ins at the paths Vivado uses, unless
that step is listed in ``skip_outputs`` (then the script's own checks must stop it).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TclRun", "run_recorded", "FAKE_IP_VERSION", "TCLSH_MISSING"]

#: the version the recording ``get_ipdefs`` answers with
FAKE_IP_VERSION = "97.3"
TCLSH_MISSING = "`tclsh` is not on PATH (scripts/setup.sh installs Debian's tcl)"

_HARNESS = r"""
set ::qaccel_calls {}
set ::qaccel_props [dict create]
set ::qaccel_skip [list %(skip)s]
proc qaccel_touch {path} {
    file mkdir [file dirname $path]
    close [open $path w]
    return $path
}
proc qaccel_arg {args flag} {
    set i [lsearch -exact $args $flag]
    if {$i < 0} { return "" }
    return [lindex $args [expr {$i + 1}]]
}
proc unknown {cmd args} {
    lappend ::qaccel_calls [concat [list $cmd] $args]
    set proj [expr {[info exists ::qaccel_proj] ? $::qaccel_proj : [pwd]}]
    switch -- $cmd {
        get_ipdefs {
            set filter [qaccel_arg $args -filter]
            regexp {NAME == (\S+)} $filter -> name
            return "xilinx.com:ip:$name:%(version)s"
        }
        create_project {
            if {"project" ni $::qaccel_skip} {
                qaccel_touch [lindex $args 1]/[lindex $args 0].xpr
            }
            return [lindex $args 0]
        }
        create_bd_design {
            if {"block_design" ni $::qaccel_skip} {
                set bd [lindex $args 0]
                qaccel_touch $proj/qaccel_pynq.srcs/sources_1/bd/$bd/$bd.bd
            }
            return [lindex $args 0]
        }
        make_wrapper {
            set path $proj/qaccel_pynq.gen/sources_1/bd/qaccel_bd/hdl/qaccel_bd_wrapper.v
            if {"wrapper" ni $::qaccel_skip} { qaccel_touch $path }
            return $path
        }
        launch_runs {
            if {"bitstream" ni $::qaccel_skip} {
                qaccel_touch $proj/qaccel_pynq.runs/impl_1/qaccel_bd_wrapper.bit
            }
            if {"handoff" ni $::qaccel_skip} {
                qaccel_touch $proj/qaccel_pynq.gen/sources_1/bd/qaccel_bd/hw_handoff/qaccel_bd.hwh
            }
            return impl_1
        }
        set_property {
            if {[llength $args] >= 3} {
                dict set ::qaccel_props "[lindex $args 0]|[lindex $args end]" [lindex $args 1]
            }
            return ""
        }
        get_property {
            set key "[lindex $args 0]|[lindex $args end]"
            if {[dict exists $::qaccel_props $key]} { return [dict get $::qaccel_props $key] }
            return ""
        }
        get_bd_addr_segs {
            regexp {\*(\w+)\*} [qaccel_arg $args -filter] -> name
            return SEG_$name
        }
        get_files - get_bd_cells - get_bd_pins - get_bd_intf_pins - get_bd_intf_nets -
        get_bd_designs - get_board_parts - get_filesets - get_bd_addr_spaces -
        current_project - current_fileset {
            return [lindex $args end]
        }
        ipx::current_core { return core }
        ipx::package_project { set ::qaccel_ip_root [qaccel_arg $args -root_dir]; return "" }
        ipx::add_register { return "reg:[lindex $args 0]" }
        ipx::add_register_parameter { return "param:[lindex $args 0]:[lindex $args 1]" }
        ipx::get_bus_interfaces { return [lindex $args 0] }
        ipx::save_core {
            if {"package" ni $::qaccel_skip} { qaccel_touch $::qaccel_ip_root/component.xml }
            return ""
        }
        package_xo {
            if {"xo" ni $::qaccel_skip} { qaccel_touch [qaccel_arg $args -xo_path] }
            return ""
        }
        default { return "" }
    }
}
proc qaccel_dump {} {
    set f [open $::qaccel_log w]
    foreach call $::qaccel_calls {
        puts $f [join [lmap w $call {string map [list \n { }] $w}] \x1f]
    }
    close $f
}
rename exit qaccel_real_exit
proc exit {{code 0}} { qaccel_dump; qaccel_real_exit $code }
set ::qaccel_log %(log)s
if {[catch {source %(script)s} err]} {
    qaccel_dump
    puts stderr "qaccel harness: $err"
    qaccel_real_exit 3
}
qaccel_dump
"""


@dataclass(frozen=True)
class TclRun:
    """One recorded run: exit status, stdout/stderr, and each vendor call as a word list."""

    returncode: int
    stdout: str
    stderr: str
    calls: list[list[str]]

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def index(self, command: str, *words: str) -> int:
        """Position of the first call of ``command`` that contains all ``words``."""
        for i, call in enumerate(self.calls):
            if call[0] == command and all(w in call for w in words):
                return i
        raise ValueError(f"no recorded call {command} {' '.join(words)}")


def _tcl_quote(path: Path) -> str:
    return "{" + str(path) + "}"


def run_recorded(script: Path, *, skip_outputs: tuple[str, ...] = (),
                 timeout_s: float = 60.0) -> TclRun:
    """Run ``script`` under the recording harness; stand-in outputs go under the script's
    project folder (its ``qaccel_proj`` variable)."""
    tclsh = shutil.which("tclsh")
    if tclsh is None:
        raise FileNotFoundError(TCLSH_MISSING)
    log = script.parent / "tclsh_calls.txt"
    harness = script.parent / "tclsh_harness.tcl"
    harness.write_text(_HARNESS % {"skip": " ".join(skip_outputs), "version": FAKE_IP_VERSION,
                                   "log": _tcl_quote(log),
                                   "script": _tcl_quote(script)})
    proc = subprocess.run([tclsh, str(harness)], capture_output=True, text=True,
                          timeout=timeout_s, check=False, cwd=script.parent)
    calls = [line.split("\x1f") for line in log.read_text().splitlines()] \
        if log.is_file() else []
    return TclRun(proc.returncode, proc.stdout, proc.stderr, calls)
