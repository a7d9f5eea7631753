"""2-D convolution through oneDNN for Paddle's dynamic graph on CPU, forward and backward.

Paddle 3.3.1's dynamic-graph CPU convolution is im2col + MKL GEMM; it never calls oneDNN. This op
calls oneDNN's convolution primitives (forward, backward-data, backward-weights) of the
``libdnnl.so.3`` inside the paddle wheel through ctypes on its v3 C API (opaque handles: no
headers, no compiler), and a PyLayer gives autograd. Why and how fast: docs/cpu_training.md.

    conv2d(x, weight, stride, padding, dilation, groups, data_format, compute) -> y, or None

x ``[N, C, H, W]`` (NCHW) or ``[N, H, W, C]`` (NHWC), float32 on CPU; weight ``[O, C/groups, KH,
KW]``; padding ``(top, bottom, left, right)``; no bias (the caller adds it). ``compute`` 'f32', or
'bf16' (bf16 inputs into the primitives, float32 outputs and gradients: the master weights stay
float32). None: oneDNN has no fast kernel for this geometry (the caller runs Paddle's conv).

oneDNN picks its own layouts ("any") and the plain tensors are reordered in and out, except for
1x1 stride-1 convolutions, which run as GEMMs on the plain tensors (``gemm_wins``). One plan
(primitives + reorders) per geometry lives for the process, and with it its oneDNN handles; its
scratch buffers are Paddle tensors taken per call (one buffer kept per plan cost +2.1 GB peak RSS
on TSM-R50 2x8x224).
"""
import ctypes as C
import os

import paddle

LIB_PATH = os.path.join(os.path.dirname(paddle.__file__), "libs", "libdnnl.so.3")
MAJOR = 3  # the C API below is oneDNN v3's (v2 had op descriptors instead of *_primitive_desc_create)

# oneDNN v3 C API values (dnnl_common_types.h / dnnl_types.h of v3.6.2, the wheel's version); the
# enum values of tags, queries and arguments are checked against the library by _self_check at load.
F32, BF16 = 3, 2                        # dnnl_data_type_t: dnnl_f32, dnnl_bf16
TAG_ANY, TAG_ABCD, TAG_ABCDE, TAG_ACDB = 1, 5, 6, 22  # dnnl_format_tag_t (any, abcd, abcde, acdb = NHWC)
ENGINE_CPU, STREAM_IN_ORDER = 1, 1      # dnnl_cpu, dnnl_stream_default_flags
FORWARD_TRAINING, CONV_DIRECT = 64, 1   # dnnl_forward_training, dnnl_convolution_direct
Q_IMPL_INFO_STR = 8                     # dnnl_query_impl_info_str
Q_SRC, Q_DIFF_SRC, Q_WEIGHTS, Q_DIFF_WEIGHTS, Q_DST, Q_DIFF_DST = 129, 130, 131, 132, 133, 134
Q_EXEC_ARG = 255                        # dnnl_query_exec_arg_md (index = an ARG_* value)
ARG_SRC, ARG_DST, ARG_WEIGHTS = 1, 17, 33              # DNNL_ARG_SRC/DST/WEIGHTS
ARG_DIFF_SRC, ARG_DIFF_DST, ARG_DIFF_WEIGHTS = 129, 145, 161
MAX_NDIMS = 12                          # DNNL_MAX_NDIMS: dnnl_dims_t is int64_t[12]
# dnnl_cpu_isa_t values -> the names ONEDNN_VERBOSE prints
ISA_NAMES = {0x1: "sse41", 0x3: "avx", 0x7: "avx2", 0xf: "avx2_vnni", 0x1f: "avx2_vnni_2",
             0x27: "avx512_core", 0x67: "avx512_core_vnni", 0xe7: "avx512_core_bf16",
             0x1ef: "avx512_core_fp16", 0xfef: "avx512_core_amx", 0x1fef: "avx512_core_amx_fp16"}
COMPUTE = {"f32": F32, "bf16": BF16}

Dims = C.c_int64 * MAX_NDIMS
_vp, _int = C.c_void_p, C.c_int


class VersionT(C.Structure):
    """dnnl_version_t."""
    _fields_ = [("major", _int), ("minor", _int), ("patch", _int), ("hash", C.c_char_p),
                ("cpu_runtime", C.c_uint), ("gpu_runtime", C.c_uint)]


class ExecArg(C.Structure):
    """dnnl_exec_arg_t: an ARG_* index and the memory bound to it."""
    _fields_ = [("arg", _int), ("memory", _vp)]


# name -> (argument types, result type) of every C function used
_SIGNATURES = {
    "dnnl_version": ([], C.POINTER(VersionT)),
    "dnnl_get_effective_cpu_isa": ([], _int),
    "dnnl_engine_create": ([C.POINTER(_vp), _int, C.c_size_t], _int),
    "dnnl_stream_create": ([C.POINTER(_vp), _vp, C.c_uint], _int),
    "dnnl_stream_wait": ([_vp], _int),
    "dnnl_memory_desc_create_with_tag": ([C.POINTER(_vp), _int, Dims, _int, _int], _int),
    "dnnl_memory_desc_create_with_strides": ([C.POINTER(_vp), _int, Dims, _int, Dims], _int),
    "dnnl_memory_desc_equal": ([_vp, _vp], _int),
    "dnnl_memory_desc_get_size": ([_vp], C.c_size_t),
    "dnnl_memory_create": ([C.POINTER(_vp), _vp, _vp, _vp], _int),
    "dnnl_memory_set_data_handle": ([_vp, _vp], _int),
    "dnnl_convolution_forward_primitive_desc_create": (
        [C.POINTER(_vp), _vp, _int, _int, _vp, _vp, _vp, _vp, Dims, Dims, Dims, Dims, _vp], _int),
    "dnnl_convolution_backward_data_primitive_desc_create": (
        [C.POINTER(_vp), _vp, _int, _vp, _vp, _vp, Dims, Dims, Dims, Dims, _vp, _vp], _int),
    "dnnl_convolution_backward_weights_primitive_desc_create": (
        [C.POINTER(_vp), _vp, _int, _vp, _vp, _vp, _vp, Dims, Dims, Dims, Dims, _vp, _vp], _int),
    "dnnl_reorder_primitive_desc_create": ([C.POINTER(_vp), _vp, _vp, _vp, _vp, _vp], _int),
    "dnnl_primitive_desc_query": ([_vp, _int, _int, _vp], _int),
    "dnnl_primitive_desc_query_md": ([_vp, _int, _int], _vp),
    "dnnl_primitive_create": ([C.POINTER(_vp), _vp], _int),
    "dnnl_primitive_execute": ([_vp, _vp, _int, C.POINTER(ExecArg)], _int),
}


def _ok(status, what):
    if status != 0:
        raise RuntimeError(f"oneDNN {what} failed (dnnl_status_t {status})")


def version_problem(major, minor, patch):
    """None when oneDNN ``major.minor.patch`` has the C API this module calls, else why not."""
    if major != MAJOR:
        return f"libdnnl is v{major}.{minor}.{patch}, this op needs oneDNN v{MAJOR}.x"
    return None


class Library:
    """The bound C functions of one libdnnl, with its CPU engine and stream (``open_library`` makes one)."""

    def __init__(self, cdll):
        for name, (args, res) in _SIGNATURES.items():
            fn = getattr(cdll, name)
            fn.argtypes, fn.restype = args, res
            setattr(self, name[len("dnnl_"):], fn)
        v = self.version().contents
        self.version_tuple = (v.major, v.minor, v.patch)
        isa = self.get_effective_cpu_isa()
        self.isa = ISA_NAMES.get(isa, hex(isa))
        self.engine, self.stream = _vp(), _vp()

    def start(self):
        _ok(self.engine_create(C.byref(self.engine), ENGINE_CPU, 0), "engine_create")
        _ok(self.stream_create(C.byref(self.stream), self.engine, STREAM_IN_ORDER), "stream_create")

    def describe(self):
        return "oneDNN v{}.{}.{} (ISA {})".format(*self.version_tuple, self.isa)

    def md(self, dims, dtype=F32, tag=TAG_ANY):
        h = _vp()
        _ok(self.memory_desc_create_with_tag(C.byref(h), len(dims), Dims(*dims), dtype, tag), "memory_desc_create")
        return h

    def md_strided(self, dims, strides, dtype=F32):
        h = _vp()
        _ok(self.memory_desc_create_with_strides(C.byref(h), len(dims), Dims(*dims), dtype, Dims(*strides)),
            "memory_desc_create_with_strides")
        return h

    def same(self, a, b):
        return bool(self.memory_desc_equal(a, b))

    def memory(self, md):
        h = _vp()
        _ok(self.memory_create(C.byref(h), md, self.engine, None), "memory_create")
        return h

    def bind(self, memory, address):
        _ok(self.memory_set_data_handle(memory, _vp(address)), "memory_set_data_handle")

    def primitive(self, pd):
        h = _vp()
        _ok(self.primitive_create(C.byref(h), pd), "primitive_create")
        return h

    def reorder(self, src_md, dst_md):
        pd = _vp()
        _ok(self.reorder_primitive_desc_create(C.byref(pd), src_md, self.engine, dst_md, self.engine, None),
            "reorder_primitive_desc_create")
        return self.primitive(pd)

    def run(self, primitive, args):
        """Execute ``primitive`` with [(ARG_*, memory)] on the stream (synchronous on CPU)."""
        arr = (ExecArg * len(args))(*[ExecArg(a, m) for a, m in args])
        _ok(self.primitive_execute(primitive, self.stream, len(args), arr), "primitive_execute")

    def impl(self, pd):
        """The implementation oneDNN chose for ``pd`` ('brg_conv_fwd:avx2', 'ref:any', ...)."""
        name = C.c_char_p()
        _ok(self.primitive_desc_query(pd, Q_IMPL_INFO_STR, 0, C.byref(name)), "query impl_info_str")
        return (name.value or b"").decode()

    def query(self, pd, what, index=0):
        return self.primitive_desc_query_md(pd, what, index)


def _plain_strides(dims, order):
    """Strides of ``dims`` stored in ``order`` (outermost first): (0, 1, 2, 3) = NCHW, (0, 2, 3, 1) = NHWC."""
    strides, step = [0] * len(dims), 1
    for axis in reversed(order):
        strides[axis], step = step, step * dims[axis]
    return strides


def _self_check(lib):
    """Raise RuntimeError when a constant above does not mean in ``lib`` what this module assumes:
    tags against strides, data type sizes, query and argument values against a convolution whose
    memory descriptors are all given (so the answers are known), and one tiny convolution's numbers."""
    dims = (2, 3, 4, 5)
    for tag, order, name in ((TAG_ABCD, (0, 1, 2, 3), "abcd"), (TAG_ACDB, (0, 2, 3, 1), "acdb")):
        if not lib.same(lib.md(dims, F32, tag), lib.md_strided(dims, _plain_strides(dims, order))):
            raise RuntimeError(f"format tag {tag} is not {name}")
    five = (2, 3, 4, 5, 6)
    if not lib.same(lib.md(five, F32, TAG_ABCDE), lib.md_strided(five, _plain_strides(five, range(5)))):
        raise RuntimeError(f"format tag {TAG_ABCDE} is not abcde")
    if lib.memory_desc_get_size(lib.md(dims, F32, TAG_ABCD)) != 120 * 4:
        raise RuntimeError(f"data type {F32} is not 4 bytes")
    # bf16 keeps float32's upper 16 bits: 1.0 is 0x3f80 (float16's would be 0x3c00)
    one, half = (C.c_float * 2)(1.0, 1.0), (C.c_uint16 * 2)()
    f32_md, bf16_md = lib.md((1, 1, 1, 2), F32, TAG_ABCD), lib.md((1, 1, 1, 2), BF16, TAG_ABCD)
    src, dst = lib.memory(f32_md), lib.memory(bf16_md)
    lib.bind(src, C.addressof(one))
    lib.bind(dst, C.addressof(half))
    lib.run(lib.reorder(f32_md, bf16_md), [(ARG_SRC, src), (ARG_DST, dst)])
    if list(half) != [0x3f80, 0x3f80]:
        raise RuntimeError(f"data type {BF16} is not bf16")
    plan = make_plan(lib, (2, 3, 5, 6), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "NCHW", F32, plain=True)
    for pd, checks in ((plan.pds[0], ((Q_SRC, ARG_SRC, plan.mds[0]), (Q_WEIGHTS, ARG_WEIGHTS, plan.mds[1]),
                                      (Q_DST, ARG_DST, plan.mds[2]))),
                       (plan.pds[1], ((Q_DIFF_SRC, ARG_DIFF_SRC, plan.mds[0]), (Q_DIFF_DST, ARG_DIFF_DST, plan.mds[2]))),
                       (plan.pds[2], ((Q_DIFF_WEIGHTS, ARG_DIFF_WEIGHTS, plan.mds[1]),))):
        for q, arg, md in checks:
            if not (lib.same(lib.query(pd, q), md) and lib.same(lib.query(pd, Q_EXEC_ARG, arg), md)):
                raise RuntimeError(f"query {q} / argument {arg} do not name the memory they should")
    # the numbers: a 1x1 convolution of known tensors through the whole op
    x = paddle.arange(24, dtype="float32").reshape([1, 2, 3, 4])
    w = paddle.to_tensor([[[[1.0]], [[-2.0]]]])
    y = paddle.empty([1, 1, 3, 4], dtype="float32")
    make_plan(lib, (1, 2, 3, 4), (1, 2, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, "NCHW", F32).forward(x, w, y)
    if not bool(paddle.allclose(y, x[:, :1] - 2 * x[:, 1:])):
        raise RuntimeError("a 1x1 convolution gave wrong numbers")


_STATE = {}


def open_library(path=LIB_PATH):
    """Load and check the libdnnl at ``path`` -> (Library, None), or (None, why it cannot serve)."""
    if not os.path.isfile(path):
        return None, f"{path} not found (this Paddle build ships no oneDNN)"
    if not hasattr(paddle.Tensor, "data_ptr"):
        return None, f"paddle {paddle.__version__} has no Tensor.data_ptr"
    try:
        lib = Library(C.CDLL(path))
    except (OSError, AttributeError) as exc:
        return None, f"{path}: {exc}"
    problem = version_problem(*lib.version_tuple)
    if problem:
        return None, problem
    try:
        lib.start()
        _self_check(lib)
    except RuntimeError as exc:
        return None, f"{lib.describe()} failed its self-check: {exc}"
    return lib, None


def library():
    """The process's checked libdnnl (loaded on first use) -> (Library or None, reason or None)."""
    if "lib" not in _STATE:
        _STATE["lib"], _STATE["reason"] = open_library()
    return _STATE["lib"], _STATE["reason"]


class _Port:
    """A plain Paddle tensor on one side, the layout (and data type) a primitive wants on the other:
    a memory re-pointed at each call's tensor, plus, when the two differ, an inner memory on a
    per-call scratch tensor and the reorder between them."""

    def __init__(self, lib, user_md, want_md, out):
        self.lib, self.out, self.want = lib, out, want_md
        self.user = lib.memory(user_md)
        self.same = lib.same(user_md, want_md)
        self.inner = self.user
        if not self.same:
            self.inner = lib.memory(want_md)
            self.words = (lib.memory_desc_get_size(want_md) + 3) // 4
            self.reorder = lib.reorder(want_md, user_md) if out else lib.reorder(user_md, want_md)

    def attach(self, tensor, keep):
        """Point at ``tensor``; take a scratch buffer (held in ``keep``) and reorder in for inputs."""
        self.lib.bind(self.user, tensor.data_ptr())
        if not self.same:
            buf = paddle.empty([self.words], dtype="float32")
            keep.append(buf)
            self.lib.bind(self.inner, buf.data_ptr())
            if not self.out:
                self.lib.run(self.reorder, [(ARG_SRC, self.user), (ARG_DST, self.inner)])
        return self.inner

    def flush(self):
        """Outputs: reorder the result into the user's tensor."""
        if not self.same:
            self.lib.run(self.reorder, [(ARG_SRC, self.inner), (ARG_DST, self.user)])


class Plan:
    """The three convolution primitives of one geometry and the ports around them."""

    def __init__(self, lib, pds, mds, impls, ports, y_shape):
        self.lib, self.pds, self.mds, self.impls, self.y_shape = lib, pds, mds, impls, y_shape
        self.prims = [lib.primitive(pd) for pd in pds]
        (self.f_x, self.f_w, self.f_y), (self.d_gy, self.d_w, self.d_gx), (self.w_gy, self.w_x, self.w_gw) = ports
        # both backward passes usually take the output gradient in the same layout: reorder it once
        self.gy_shared = lib.same(self.d_gy.want, self.w_gy.want)

    def forward(self, x, w, y):
        keep = []
        self.lib.run(self.prims[0], [(ARG_SRC, self.f_x.attach(x, keep)), (ARG_WEIGHTS, self.f_w.attach(w, keep)),
                                     (ARG_DST, self.f_y.attach(y, keep))])
        self.f_y.flush()
        _ok(self.lib.stream_wait(self.lib.stream), "stream_wait")

    def backward(self, x, w, gy, gx, gw):
        """Fill ``gx`` (skipped when None) and ``gw`` (skipped when None) from ``gy``."""
        keep, gy_in = [], None
        if gx is not None:
            gy_in = self.d_gy.attach(gy, keep)
            self.lib.run(self.prims[1], [(ARG_DIFF_DST, gy_in), (ARG_WEIGHTS, self.d_w.attach(w, keep)),
                                         (ARG_DIFF_SRC, self.d_gx.attach(gx, keep))])
            self.d_gx.flush()
        if gw is not None:
            if gy_in is None or not self.gy_shared:
                gy_in = self.w_gy.attach(gy, keep)
            self.lib.run(self.prims[2], [(ARG_DIFF_DST, gy_in),
                                         (ARG_SRC, self.w_x.attach(x, keep)),
                                         (ARG_DIFF_WEIGHTS, self.w_gw.attach(gw, keep))])
            self.w_gw.flush()
        _ok(self.lib.stream_wait(self.lib.stream), "stream_wait")


def out_size(size, kernel, stride, pad_lo, pad_hi, dilation):
    return (size + pad_lo + pad_hi - (dilation * (kernel - 1) + 1)) // stride + 1


def make_plan(lib, x_shape, w_shape, stride, padding, dilation, groups, data_format, compute, plain=False):
    """Primitives for x ``x_shape`` (in ``data_format``), weight ``w_shape`` [O, C/groups, KH, KW],
    ``padding`` (top, bottom, left, right), ``compute`` F32 or BF16 -> Plan. ``plain``: the
    primitives work in the tensors' own layouts (no reorders, unless the compute type differs);
    else in layouts of oneDNN's choice. RuntimeError when oneDNN has no kernel."""
    n, c, h, w = (x_shape[0], x_shape[3], x_shape[1], x_shape[2]) if data_format == "NHWC" else x_shape
    o, _, kh, kw = w_shape
    top, bottom, left, right = padding
    out = [n, o, out_size(h, kh, stride[0], top, bottom, dilation[0]),
           out_size(w, kw, stride[1], left, right, dilation[1])]
    dims = ([n, c, h, w], [groups, o // groups] + list(w_shape[1:]) if groups > 1 else list(w_shape), out)
    tag = TAG_ACDB if data_format == "NHWC" else TAG_ABCD
    user_tags = (tag, TAG_ABCDE if groups > 1 else TAG_ABCD, tag)
    user = tuple(lib.md(d, F32, t) for d, t in zip(dims, user_tags))
    tags = user_tags if plain else (TAG_ANY,) * 3
    # a primitive reads in the compute type and writes float32 (outputs and gradients)
    x_in, w_in, y_in = (lib.md(d, compute, t) for d, t in zip(dims, tags))
    x_out, w_out, y_out = (lib.md(d, F32, t) for d, t in zip(dims, tags))
    geometry = (Dims(*stride), Dims(dilation[0] - 1, dilation[1] - 1), Dims(top, left), Dims(bottom, right))
    pds = [_vp(), _vp(), _vp()]
    _ok(lib.convolution_forward_primitive_desc_create(C.byref(pds[0]), lib.engine, FORWARD_TRAINING, CONV_DIRECT,
                                                      x_in, w_in, None, y_out, *geometry, None),
        "convolution forward primitive_desc_create")
    _ok(lib.convolution_backward_data_primitive_desc_create(C.byref(pds[1]), lib.engine, CONV_DIRECT, x_out, w_in,
                                                            y_in, *geometry, pds[0], None),
        "convolution backward-data primitive_desc_create")
    _ok(lib.convolution_backward_weights_primitive_desc_create(C.byref(pds[2]), lib.engine, CONV_DIRECT, x_in, w_out,
                                                               None, y_in, *geometry, pds[0], None),
        "convolution backward-weights primitive_desc_create")
    q = lib.query
    ports = ((_Port(lib, user[0], q(pds[0], Q_SRC), False), _Port(lib, user[1], q(pds[0], Q_WEIGHTS), False),
              _Port(lib, user[2], q(pds[0], Q_DST), True)),
             (_Port(lib, user[2], q(pds[1], Q_DIFF_DST), False), _Port(lib, user[1], q(pds[1], Q_WEIGHTS), False),
              _Port(lib, user[0], q(pds[1], Q_DIFF_SRC), True)),
             (_Port(lib, user[2], q(pds[2], Q_DIFF_DST), False), _Port(lib, user[0], q(pds[2], Q_SRC), False),
              _Port(lib, user[1], q(pds[2], Q_DIFF_WEIGHTS), True)))
    y_shape = [n, out[2], out[3], o] if data_format == "NHWC" else out
    return Plan(lib, pds, user, [lib.impl(pd) for pd in pds], ports, y_shape)


_PLANS = {}  # geometry -> its Plan, or why oneDNN has no fast kernel for it


def gemm_wins(w_shape, stride, groups):
    """True for a 1x1 stride-1 convolution: a GEMM on the plain tensors (oneDNN's 'gemm:jit', no
    reorders) beat oneDNN's blocked 1x1 kernel, whose layout changes in and out cost more than
    they save (TSM-R50 shapes at 56 px, AVX2: 213-227 ms against 310-353 ms, Paddle 252-263 ms)."""
    return tuple(w_shape[2:]) == (1, 1) and tuple(stride) == (1, 1) and groups == 1


def plan_for(x_shape, w_shape, stride, padding, dilation, groups, data_format, compute):
    """The cached Plan of one geometry (arguments as make_plan's, ``compute`` 'f32' or 'bf16')
    -> (Plan, None), or (None, why oneDNN cannot run it: no library, no kernel, only 'ref')."""
    key = (tuple(x_shape), tuple(w_shape), tuple(stride), tuple(padding), tuple(dilation), groups, data_format,
           compute)
    if key not in _PLANS:
        lib, reason = library()
        entry = reason
        # the plain layouts first where a GEMM wins, oneDNN's own layouts otherwise (or after a 'ref')
        for plain in ((True, False) if gemm_wins(w_shape, stride, groups) else (False,)) if lib else ():
            try:
                entry = make_plan(lib, *key[:-1], COMPUTE[compute], plain=plain)
            except RuntimeError as exc:
                entry = str(exc)
                continue
            refs = [impl for impl in entry.impls if impl.startswith("ref")]
            if not refs:
                break
            # oneDNN's reference code is far slower than Paddle's GEMM convolution
            entry = f"oneDNN has only its reference kernel ({refs[0]})"
        _PLANS[key] = entry
    entry = _PLANS[key]
    return (entry, None) if isinstance(entry, Plan) else (None, entry)


def _contiguous(t):
    return t if t.is_contiguous() else t.contiguous()


class OneDNNConv(paddle.autograd.PyLayer):
    """apply(x, weight, plan) -> y; backward: the input gradient (unless x.stop_gradient) and the
    weight gradient (unless weight.stop_gradient) from oneDNN's backward primitives."""

    @staticmethod
    def forward(ctx, x, weight, plan):
        y = paddle.empty(plan.y_shape, dtype="float32")
        plan.forward(x, weight, y)
        ctx.save_for_backward(x, weight)
        ctx.plan = plan
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight = ctx.saved_tensor()
        gx = None if x.stop_gradient else paddle.empty(x.shape, dtype="float32")
        gw = None if weight.stop_gradient else paddle.empty(weight.shape, dtype="float32")
        ctx.plan.backward(x, weight, _contiguous(gy), gx, gw)
        return gx, gw


def conv2d(x, weight, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1, data_format="NCHW",
           compute="f32"):
    """oneDNN's convolution of float32 CPU ``x`` with ``weight`` (see the module docstring) -> y,
    or None when oneDNN has no fast kernel for this geometry (``plan_for`` says why)."""
    plan, _ = plan_for(x.shape, weight.shape, stride, padding, dilation, groups, data_format, compute)
    if plan is None:
        return None
    return OneDNNConv.apply(_contiguous(x), _contiguous(weight), plan)


def bf16_problem():
    """None when oneDNN has fast bf16 convolutions here (forward and both backward passes of a
    3x3 ResNet convolution), else one line saying why not."""
    lib, reason = library()
    if lib is None:
        return reason
    _, reason = plan_for((2, 64, 14, 14), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, "NCHW", "bf16")
    if reason is None:
        return None
    return (f"{lib.describe()} has no bf16 convolution on this CPU (it needs AVX512-BF16 or AMX): "
            f"{reason}")
