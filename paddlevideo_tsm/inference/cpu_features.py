"""What this CPU computes fast for low-precision inference: its model name and whether oneDNN runs
bf16 here natively, emulated or not at all (the flags line of the benchmarks: utils/cpu_info.cpu_summary).

bf16 follows Paddle's own probes, which are what its bf16 passes check: without AVX-512
(``core.supports_bfloat16()`` False) ``Config.enable_mkldnn_bfloat16()`` switches itself off and the
model runs in fp32 without a word; with AVX-512 but no AVX512-BF16 it runs bf16 emulated.
"""
from ..utils.cpu_info import cpu_facts, read_cpuinfo

BF16_NATIVE, BF16_EMULATED, BF16_NONE = "native", "emulated", "none"


def cpu_model():
    """The CPU's model name ('unknown CPU' where /proc/cpuinfo does not say)."""
    return cpu_facts(read_cpuinfo())["model"] or "unknown CPU"


def bf16_support():
    """BF16_NATIVE (AVX512-BF16, AMX), BF16_EMULATED (AVX-512 without it) or BF16_NONE."""
    from paddle.base import core

    if core.supports_bfloat16_fast_performance():
        return BF16_NATIVE
    if core.supports_bfloat16():
        return BF16_EMULATED
    return BF16_NONE
