"""The oneDNN profile benchmark's parser: sums the last run's primitive times by kind."""
from paddlevideo_tsm.benchmarks.onednn_profile import parse_verbose

VERBOSE = """\
@@RUN 0
onednn_verbose,v1,primitive,exec,cpu,convolution,brgconv_1x1:avx512_core,forward_inference,src:f32,,alg,mb8,9.0
@@WALL 0.5
@@RUN 1
onednn_verbose,v1,primitive,create:cache_hit,cpu,reorder,jit:uni,undef,src,,,8x64,0.01
onednn_verbose,v1,primitive,exec,cpu,convolution,brgconv_1x1:avx512_core,forward_inference,src:f32,,alg,mb8,2.5
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:acdb::f0 dst:f32,,,8x64x56x56,0.25
onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core,forward_inference,src,,alg,mb8,1.5
onednn_verbose,exec,cpu,concat,simple:any,undef,src,,,8x32x56x56:8x32x56x56,0.75
some other line
@@WALL 0.125
"""


def test_last_run_summed_by_kind():
    prims, wall = parse_verbose(VERBOSE)
    # run 0 is ignored, 'create' lines are not executions; both verbose line formats are read
    assert prims == {"convolution": (2, 4.0), "reorder": (1, 0.25), "concat": (1, 0.75)}
    assert wall == 0.125
