"""What this CPU computes fast for low-precision inference: its model name, its SIMD flags, and
whether oneDNN runs bf16 here natively, emulated or not at all.

bf16 follows Paddle's own probes, which are what its bf16 passes check: without AVX-512
(``core.supports_bfloat16()`` False) ``Config.enable_mkldnn_bfloat16()`` switches itself off and the
model runs in fp32 without a word; with AVX-512 but no AVX512-BF16 it runs bf16 emulated.
"""
import os

from ..utils.cpu_info import cpu_facts, read_cpuinfo

# flags that matter for oneDNN bf16 / int8 speed, in the order they are reported
LOW_PRECISION_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                       "amx_bf16", "amx_int8", "amx_tile")
# what makes bf16 / int8 fast; reported as missing when absent
FAST_FLAGS = ("avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni")
BF16_NATIVE, BF16_EMULATED, BF16_NONE = "native", "emulated", "none"


def cpu_model():
    """The CPU's model name ('unknown CPU' where /proc/cpuinfo does not say)."""
    return cpu_facts(read_cpuinfo())["model"] or "unknown CPU"


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (an empty set elsewhere)."""
    return set(cpu_facts(read_cpuinfo())["flags"])


def low_precision_flags(flags=None):
    """The LOW_PRECISION_FLAGS this CPU has, in that order."""
    flags = cpu_flags() if flags is None else flags
    return [f for f in LOW_PRECISION_FLAGS if f in flags]


def bf16_support():
    """BF16_NATIVE (AVX512-BF16, AMX), BF16_EMULATED (AVX-512 without it) or BF16_NONE."""
    from paddle.base import core

    if core.supports_bfloat16_fast_performance():
        return BF16_NATIVE
    if core.supports_bfloat16():
        return BF16_EMULATED
    return BF16_NONE


def cpu_summary():
    """One line for benchmark reports: model, cores and the low-precision flags."""
    flags = low_precision_flags()
    missing = [f for f in FAST_FLAGS if f not in flags]
    text = f"CPU: {cpu_model()}, {os.cpu_count()} cores; flags: {' '.join(flags) or '(none of these)'}"
    return text + (f" (no {', '.join(missing)})" if missing else "")
