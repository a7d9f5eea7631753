"""What this CPU is (vendor, model name, flags from /proc/cpuinfo), and the MKL code path it needs.

Paddle's CPU wheel ships MKL 2019.0.5, which picks its kernels by CPU vendor: on AMD it runs its
generic code, 2-3x slower GEMMs than its AVX2 ones (Paddle's dynamic-graph convolution is im2col +
MKL GEMM: one TSM-R50 training step took 2.4x more CPU on an AMD EPYC). ``MKL_DEBUG_CPU_TYPE=5``
(MKL 2020.1 removed it) makes it take the AVX2 path; it must be in the environment before the
first GEMM. Never on Intel, where MKL already picks its best path (5 would cap it at AVX2).
"""
import os

MKL_VAR = "MKL_DEBUG_CPU_TYPE"
MKL_AVX2 = "5"


def read_cpuinfo(path="/proc/cpuinfo"):
    """The text of ``path`` ('' where it cannot be read: not Linux)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cpu_facts(text):
    """/proc/cpuinfo text -> {'vendor', 'model', 'flags' (frozenset)} of its first processor
    ('' and an empty set for what it does not say)."""
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block is enough: the cores of one machine match
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return {"vendor": fields.get("vendor_id", ""), "model": fields.get("model name", ""),
            "flags": frozenset(fields.get("flags", "").split())}


def mkl_cpu_type(facts, environ):
    """-> (value of MKL_DEBUG_CPU_TYPE to set or None, note for the log or None).

    Set '5' on an AMD CPU with AVX2 and FMA (the AVX2 path's instructions) when the user has not
    set the variable; a value the user set (even empty, which keeps MKL's own choice) is kept."""
    if facts["vendor"] != "AuthenticAMD" or not {"avx2", "fma"} <= facts["flags"]:
        return None, None
    if MKL_VAR in environ:
        return None, f"{MKL_VAR}={environ[MKL_VAR]!r} from the environment kept"
    return MKL_AVX2, (f"{MKL_VAR}={MKL_AVX2} set: Paddle's MKL 2019 runs its slow generic code on AMD CPUs "
                      f"otherwise (set {MKL_VAR}= empty to keep that)")


def apply_mkl_cpu_type(environ=None, cpuinfo=None):
    """Decide with mkl_cpu_type for this machine (or ``cpuinfo`` text) and set the variable in
    ``environ`` (default os.environ) -> the note (None when there is nothing to say)."""
    environ = os.environ if environ is None else environ
    value, note = mkl_cpu_type(cpu_facts(read_cpuinfo() if cpuinfo is None else cpuinfo), environ)
    if value is not None:
        environ[MKL_VAR] = value
    return note



# flags worth naming in reports (MKL's AVX2 path; oneDNN bf16 / int8 speed), in the order reported
REPORTED_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                  "amx_bf16", "amx_int8", "amx_tile")
# what makes bf16 / int8 fast; reported as missing when absent
FAST_FLAGS = ("avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni")


def cpu_summary(text=None):
    """One line for benchmark reports: model, cores and which REPORTED_FLAGS it has (this machine's
    /proc/cpuinfo, or ``text``)."""
    facts = cpu_facts(read_cpuinfo() if text is None else text)
    flags = [f for f in REPORTED_FLAGS if f in facts["flags"]]
    missing = [f for f in FAST_FLAGS if f not in facts["flags"]]
    line = f"CPU: {facts['model'] or 'unknown CPU'}, {os.cpu_count()} cores; flags: {' '.join(flags) or '(none of these)'}"
    return line + (f" (no {', '.join(missing)})" if missing else "")


def mkl_report(environ=None):
    """One line: MKL_DEBUG_CPU_TYPE as this process has it."""
    environ = os.environ if environ is None else environ
    return f"{MKL_VAR}={environ[MKL_VAR]!r}" if MKL_VAR in environ else f"{MKL_VAR} not set (MKL's own choice)"
