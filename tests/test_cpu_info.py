"""MKL's code path by CPU: MKL_DEBUG_CPU_TYPE=5 on AMD with AVX2 only, never over the user's value."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paddlevideo_tsm.utils import cpu_info

ROOT = Path(__file__).resolve().parents[1]


def cpuinfo(vendor, model, flags, processors=2):
    """A /proc/cpuinfo text with ``processors`` identical blocks."""
    block = (f"processor\t: {{i}}\nvendor_id\t: {vendor}\ncpu family\t: 25\nmodel name\t: {model}\n"
             f"flags\t\t: fpu sse sse2 {flags}\n\n")
    return "".join(block.format(i=i) for i in range(processors))


INTEL = cpuinfo("GenuineIntel", "Intel(R) Xeon(R) Platinum 8480+", "avx avx2 fma avx512f avx512_bf16 amx_tile")
AMD_AVX2 = cpuinfo("AuthenticAMD", "AMD EPYC 7B13", "avx avx2 fma")
AMD_OLD = cpuinfo("AuthenticAMD", "AMD Opteron(tm) Processor 6376", "avx fma")


def test_facts_of_the_first_processor():
    facts = cpu_info.cpu_facts(AMD_AVX2)
    assert facts["vendor"] == "AuthenticAMD" and facts["model"] == "AMD EPYC 7B13"
    assert {"avx2", "fma", "sse2"} <= facts["flags"] and "avx512f" not in facts["flags"]
    assert cpu_info.cpu_facts("") == {"vendor": "", "model": "", "flags": frozenset()}


@pytest.mark.parametrize("text, environ, value, note", [
    (AMD_AVX2, {}, "5", "MKL_DEBUG_CPU_TYPE=5 set"),
    (INTEL, {}, None, None),                       # Intel: MKL's own best path; 5 would cap it at AVX2
    (AMD_OLD, {}, None, None),                     # no AVX2: MKL's AVX2 path cannot run
    (AMD_AVX2, {"MKL_DEBUG_CPU_TYPE": "4"}, None, "MKL_DEBUG_CPU_TYPE='4' from the environment kept"),
    (AMD_AVX2, {"MKL_DEBUG_CPU_TYPE": ""}, None, "MKL_DEBUG_CPU_TYPE='' from the environment kept"),
    ("", {}, None, None),                          # no /proc/cpuinfo (not Linux)
])
def test_mkl_cpu_type_decision(text, environ, value, note):
    got_value, got_note = cpu_info.mkl_cpu_type(cpu_info.cpu_facts(text), environ)
    assert got_value == value
    assert (got_note is None) if note is None else (note in got_note)


def test_apply_sets_only_the_decided_value():
    env = {}
    assert "set" in cpu_info.apply_mkl_cpu_type(env, AMD_AVX2) and env == {"MKL_DEBUG_CPU_TYPE": "5"}
    env = {"MKL_DEBUG_CPU_TYPE": "3"}
    cpu_info.apply_mkl_cpu_type(env, AMD_AVX2)
    assert env == {"MKL_DEBUG_CPU_TYPE": "3"}
    env = {}
    assert cpu_info.apply_mkl_cpu_type(env, INTEL) is None and env == {}


def test_threads_import_applies_it_for_this_machine():
    """What importing utils.threads (main.py's first import) does here, in a fresh process."""
    expected, _ = cpu_info.mkl_cpu_type(cpu_info.cpu_facts(cpu_info.read_cpuinfo()), {})
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}
    code = ("import os, paddlevideo_tsm.utils.threads as t; "
            "print(os.environ.get('MKL_DEBUG_CPU_TYPE'), bool(t.MKL_NOTE))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [str(expected), str(expected is not None)]


def test_the_note_joins_the_cpu_threads_line(monkeypatch, capsys):
    from paddlevideo_tsm.tasks import runtime
    monkeypatch.setattr(runtime, "MKL_NOTE", "MKL_DEBUG_CPU_TYPE=5 set: because")
    runtime.setup_runtime({"cpu_threads": 1})
    lines = [line for line in capsys.readouterr().out.splitlines() if "CPU threads" in line]
    assert len(lines) == 1 and lines[0].endswith("CPU threads: 1 (config cpu_threads); MKL_DEBUG_CPU_TYPE=5 set: because")
    monkeypatch.setattr(runtime, "MKL_NOTE", None)
    runtime.setup_runtime({"cpu_threads": 1})
    assert capsys.readouterr().out.rstrip().endswith("CPU threads: 1 (config cpu_threads)")
