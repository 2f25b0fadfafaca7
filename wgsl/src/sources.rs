//! Kernel variants: a typed key per (family, op, dtypes) whose `source()` is `common.wgsl` + a
//! generated header + the family's `.wgsl` body, and whose Display is the wgpu label.

use crate::ops::{binary_expr, cast_expr, unary_expr};
use crate::{narrow_fn, scalar, Scalar, COMMON};
use mlx_arm_core::primitive::{ArgReduceOp, BinaryOp, ReduceOp, ScanOp, UnaryOp};
use mlx_arm_core::Dtype;
use std::fmt::{self, Write};

/// What an elementwise map computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapOp {
    /// Unary op.
    Unary(UnaryOp),
    /// Binary op.
    Binary(BinaryOp),
    /// `where(c, x, y)`.
    Select,
    /// Dtype conversion.
    Cast,
    /// Copy (into a dense or strided output view).
    Copy,
}

/// One compiled kernel variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KernelKey {
    /// Elementwise map: `inputs` dtypes and output dtype. Inputs whose bit is set in `scalars`
    /// are single values passed in the params (their `off_*` word holds the value's bits), so
    /// `x * 2.0` uploads nothing and reads no buffer for the constant.
    Map {
        op: MapOp,
        inputs: Vec<Dtype>,
        out: Dtype,
        scalars: u8,
    },
    /// The same map over dense, 4-aligned views, four elements per invocation.
    MapVec4 {
        op: MapOp,
        inputs: Vec<Dtype>,
        out: Dtype,
        scalars: u8,
    },
    /// Reduction over axes (input dtype, output dtype).
    Reduce {
        op: ReduceOp,
        input: Dtype,
        out: Dtype,
    },
    /// Reduction over the leading axes of a dense input, one invocation per column.
    ReduceCols {
        op: ReduceOp,
        input: Dtype,
        out: Dtype,
    },
    /// Arg-reduction along one axis.
    ArgReduce { op: ArgReduceOp, input: Dtype },
    /// Cumulative reduction.
    Scan { op: ScanOp, dtype: Dtype },
    /// Batched matmul with square output tiles of side `tile` (64: 4x4 outputs per invocation;
    /// 128: 8x8, for large matrices).
    Matmul { dtype: Dtype, tile: u32 },
    /// Batched matmul on cooperative matrices (16x16 f16 inputs, f32 accumulators; 128x128
    /// tiles) for adapters that offer them with subgroups of 32; `a_km` / `b_km`: A's m axis /
    /// B's n axis is the contiguous one (their tiles are stored k-major).
    MatmulCoop {
        dtype: Dtype,
        a_km: bool,
        b_km: bool,
    },
    /// The M == 1 product with B's columns contiguous (x @ W^T), 32 invocations per output.
    Gemv { dtype: Dtype },
    /// Fused softmax over the last axis of a dense float input.
    /// `lse`: logsumexp instead (one value per row).
    Softmax { dtype: Dtype, lse: bool },
    /// Fused RMS normalisation over the last axis of a dense float input, one workgroup per row
    /// (the weight optional, by a params flag).
    RmsNorm { dtype: Dtype },
    /// Fused attention, one workgroup per query row (`sdpa.wgsl`).
    Sdpa { dtype: Dtype },
    /// Flash attention for prefill shapes on cooperative matrices (`sdpa_coop.wgsl`: f16 q, k,
    /// v and probabilities, f32 scores and sums), head dimension `d` (a multiple of 16, <= 128),
    /// `rows` query rows per workgroup (32 or 64).
    SdpaCoop { dtype: Dtype, d: u32, rows: u32 },
    /// Fused rotary position embedding of a dense float `[.., L, D]`, one invocation per
    /// element (traditional pairs, offset, scale and explicit frequencies by params).
    Rope { dtype: Dtype },
    /// take (`along == false`) or take_along_axis.
    Gather { along: bool, dtype: Dtype },
    /// Rows of a 2-D strided view (`take` along axis 0, e.g. an embedding lookup), read where
    /// it lies (`P.off_a`, `P.s0`, `P.s1`): as `dtype` (`Wide`) or as packed 16-bit floats
    /// (`F16`/`Bf16`) without widening the whole source first.
    GatherRows { dtype: Dtype, store: ScaleStore },
    /// Scatter along an axis (set or add).
    Scatter { add: bool, dtype: Dtype },
    /// Bitonic sort stages (`init`, `step`, `finish` entry points).
    Sort { dtype: Dtype, indices: bool },
    /// arange.
    Arange { dtype: Dtype },
    /// Threefry random bits (uint32).
    RandomBits,
    /// Affine dequantize of `bits`-bit packed weights into `dtype` (MLX's rounding).
    QDequantize {
        dtype: Dtype,
        bits: u32,
        store: ScaleStore,
    },
    /// Quantized mat-vec `x @ dequant(w).T` for `rows` (1..=4) rows of x: `rpw` weight rows
    /// (1, 2, 4, 8 or 16) per workgroup of `warps` x 32 invocations (1, 2, 4 or 8) that split K
    /// by packed words (2/4/8 bits) or 32-value chunks, `unroll` (1, 2, 4 or 8) steps per pass
    /// with their loads issued together; partial sums added with subgroup operations
    /// (`subgroups`, adapters with SUBGROUP) or a tree in workgroup memory. `int8`: 4-bit
    /// weights against x quantized by [`KernelKey::QuantizeX`] (integer dot products).
    /// `residual`: an addend (binding 8, at `P.off_r`) is added as each output is stored.
    /// `chunks`: 2/4/8-bit weights by 32-value chunks too (one scale and bias per step instead
    /// of one per packed word; x loads less coalesced). `norm`: x is RMS-normalised on the fly
    /// (its weight at binding 9, `P.off_g`; Σx² reduced with the products, `P.eps`). `glu`: the
    /// weight rows are `[gate | up]` halves of `2 · P.n` rows and each output is
    /// `silu(gate) · up` (a workgroup takes `rpw / 2` rows of each half). `rope`: rows below
    /// `P.rope_rows` are rotated in adjacent pairs (traditional RoPE, `rpw` even) as stored.
    QMatvec {
        dtype: Dtype,
        bits: u32,
        rows: u32,
        rpw: u32,
        warps: u32,
        unroll: u32,
        subgroups: bool,
        store: ScaleStore,
        int8: bool,
        residual: bool,
        chunks: bool,
        norm: bool,
        glu: bool,
        rope: bool,
    },
    /// x quantized to two int8 levels per 32-value block for the integer mat-vec (`qx.wgsl`).
    QuantizeX,
    /// Tiled quantized matmul (64x64 output tiles, K in steps of 32 dequantized into workgroup
    /// memory), `x @ dequant(w).T` (`transpose`) or `x @ dequant(w)`; `tile128`: 128x128 tiles
    /// with 8x8 outputs per invocation (`qmm_128.wgsl`, transposed only: prefill shapes).
    QMatmul {
        dtype: Dtype,
        bits: u32,
        transpose: bool,
        store: ScaleStore,
        tile128: bool,
    },
    /// Quantized matmul `x @ dequant(w).T` on cooperative matrices (`qmm_coop.wgsl`: x rounded
    /// to f16, W dequantized to f16, f32 accumulators) for prefill shapes on adapters that offer
    /// 16x16 f16 tiles with subgroups of 32; `rows`: output tile height (64 or 128); `kstep`:
    /// K per step (32 or 64); `warp_rows`: rows of a subgroup's 64-column block (32 or 64).
    QMatmulCoop {
        dtype: Dtype,
        bits: u32,
        store: ScaleStore,
        rows: u32,
        kstep: u32,
        warp_rows: u32,
    },
    /// Widens packed 16-bit floats (two per u32 word, low half first: the host layout) to f32,
    /// `bf16` or f16.
    Unpack16 { bf16: bool },
}

/// How a quantized kernel's scales and biases are stored: widened to f32 like every GPU array,
/// or packed two 16-bit floats per u32 word as on the host (f16/bf16 weights moved to the GPU
/// with `to_device` stay so: half the bytes to hold and to stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScaleStore {
    /// f32 words.
    Wide,
    /// Packed f16 pairs.
    F16,
    /// Packed bf16 pairs.
    Bf16,
    /// f16 scale and bias of a group side by side in one word (scales and biases are the two
    /// halves of one `[.., G, 2]` f16 array): `SC` and `BI` bind the same buffer, indices count
    /// words, and the mat-vec reads both with one load.
    F16Pair,
}

impl ScaleStore {
    /// Every store.
    pub const ALL: [ScaleStore; 4] = [
        ScaleStore::Wide,
        ScaleStore::F16,
        ScaleStore::Bf16,
        ScaleStore::F16Pair,
    ];
}

impl fmt::Display for KernelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelKey::Map {
                op,
                inputs,
                out,
                scalars,
            } => write!(f, "map:{op:?}:{inputs:?}->{out}:s{scalars}"),
            KernelKey::MapVec4 {
                op,
                inputs,
                out,
                scalars,
            } => write!(f, "map4:{op:?}:{inputs:?}->{out}:s{scalars}"),
            KernelKey::Reduce { op, input, out } => write!(f, "reduce:{op:?}:{input}->{out}"),
            KernelKey::ReduceCols { op, input, out } => {
                write!(f, "reduce_cols:{op:?}:{input}->{out}")
            }
            KernelKey::ArgReduce { op, input } => write!(f, "argreduce:{op:?}:{input}"),
            KernelKey::Scan { op, dtype } => write!(f, "scan:{op:?}:{dtype}"),
            KernelKey::Matmul { dtype, tile } => write!(f, "matmul{tile}:{dtype}"),
            KernelKey::Softmax { dtype, lse } => {
                write!(f, "{}:{dtype}", if *lse { "logsumexp" } else { "softmax" })
            }
            KernelKey::RmsNorm { dtype } => write!(f, "rms_norm:{dtype}"),
            KernelKey::Sdpa { dtype } => write!(f, "sdpa:{dtype}"),
            KernelKey::SdpaCoop { dtype, d, rows } => write!(f, "sdpa_coop{rows}:d{d}:{dtype}"),
            KernelKey::Rope { dtype } => write!(f, "rope:{dtype}"),
            KernelKey::Gemv { dtype } => write!(f, "gemv:{dtype}"),
            KernelKey::MatmulCoop { dtype, a_km, b_km } => {
                write!(f, "matmul_coop:a{}:b{}:{dtype}", *a_km as u8, *b_km as u8)
            }
            KernelKey::Gather { along, dtype } => write!(f, "gather:{along}:{dtype}"),
            KernelKey::GatherRows { dtype, store } => write!(f, "gather_rows:{store:?}:{dtype}"),
            KernelKey::Scatter { add, dtype } => write!(f, "scatter:{add}:{dtype}"),
            KernelKey::Sort { dtype, indices } => write!(f, "sort:{dtype}:{indices}"),
            KernelKey::Arange { dtype } => write!(f, "arange:{dtype}"),
            KernelKey::RandomBits => write!(f, "random_bits"),
            KernelKey::QDequantize { dtype, bits, store } => {
                write!(f, "qdequantize:{bits}:{store:?}:{dtype}")
            }
            KernelKey::QMatvec {
                dtype,
                bits,
                rows,
                rpw,
                warps,
                unroll,
                subgroups,
                store,
                int8,
                residual,
                chunks,
                norm,
                glu,
                rope,
            } => {
                let sums = if *subgroups { "sg" } else { "tree" };
                let x = if *int8 { "int8" } else { "f32" };
                let add = format!(
                    "{}{}{}{}",
                    if *residual { ":add" } else { "" },
                    if *norm { ":norm" } else { "" },
                    if *glu { ":glu" } else { "" },
                    if *rope { ":rope" } else { "" }
                );
                let sums = if *chunks {
                    format!("{sums}:chunks")
                } else {
                    sums.to_string()
                };
                write!(
                    f,
                    "qmv:{bits}:{rows}:r{rpw}:w{warps}:u{unroll}:{sums}:{store:?}:{x}{add}:{dtype}"
                )
            }
            KernelKey::QuantizeX => write!(f, "quantize_x"),
            KernelKey::QMatmul {
                dtype,
                bits,
                transpose,
                store,
                tile128,
            } => {
                let tile = if *tile128 { 128 } else { 64 };
                write!(f, "qmm{tile}:{bits}:{transpose}:{store:?}:{dtype}")
            }
            KernelKey::QMatmulCoop {
                dtype,
                bits,
                store,
                rows,
                kstep,
                warp_rows,
            } => write!(
                f,
                "qmm_coop{rows}:k{kstep}:w{warp_rows}:{bits}:{store:?}:{dtype}"
            ),
            KernelKey::Unpack16 { bf16 } => {
                write!(f, "unpack16:{}", if *bf16 { "bf16" } else { "f16" })
            }
        }
    }
}

/// The params struct shared by the matmul kernels.
const MATMUL_PARAMS: &str = include_str!("../kernels/matmul_params.wgsl");

const NAMES: [&str; 3] = ["A", "B", "C"];
const ALIASES: [&str; 3] = ["SA", "SB", "SC"];

fn buffers(out: &mut String, inputs: &[(&str, &str)], output: (&str, &str)) {
    for (i, (name, ty)) in inputs.iter().enumerate() {
        let _ = writeln!(
            out,
            "@group(0) @binding({}) var<storage, read> {name}: array<{ty}>;",
            i + 2
        );
    }
    let _ = writeln!(
        out,
        "@group(0) @binding({}) var<storage, read_write> {}: array<{}>;",
        inputs.len() + 2,
        output.0,
        output.1
    );
}

fn is_nan_fn(s: Scalar, ty: &str) -> String {
    let body = if s == Scalar::F32 {
        "return is_nan(x);"
    } else {
        "return false;"
    };
    format!("fn key_is_nan(x: {ty}) -> bool {{ {body} }}\n")
}

/// Accumulator pieces for reductions and scans: (acc type, identity, combine, load).
fn accumulator(
    op: ReduceOp,
    s: Scalar,
) -> (&'static str, &'static str, &'static str, &'static str) {
    use ReduceOp::*;
    match (op, s) {
        (And | Or, _) => (
            "u32",
            if op == And { "1u" } else { "0u" },
            if op == And { "a & b" } else { "a | b" },
            match s {
                Scalar::F32 => "select(0u, 1u, !(x == 0.0))",
                Scalar::I32 => "select(0u, 1u, x != 0)",
                Scalar::U32 => "select(0u, 1u, x != 0u)",
            },
        ),
        (Sum, Scalar::F32) => ("f32", "0.0", "a + b", "x"),
        (Sum, Scalar::I32) => ("i32", "0", "a + b", "x"),
        (Sum, Scalar::U32) => ("u32", "0u", "a + b", "x"),
        (Prod, Scalar::F32) => ("f32", "1.0", "a * b", "x"),
        (Prod, Scalar::I32) => ("i32", "1", "a * b", "x"),
        (Prod, Scalar::U32) => ("u32", "1u", "a * b", "x"),
        (Max, Scalar::F32) => ("f32", "-inf_f32()", "max_f32(a, b)", "x"),
        (Max, Scalar::I32) => ("i32", "-2147483647 - 1", "max(a, b)", "x"),
        (Max, Scalar::U32) => ("u32", "0u", "max(a, b)", "x"),
        (Min, Scalar::F32) => ("f32", "inf_f32()", "min_f32(a, b)", "x"),
        (Min, Scalar::I32) => ("i32", "2147483647", "min(a, b)", "x"),
        (Min, Scalar::U32) => ("u32", "0xffffffffu", "min(a, b)", "x"),
    }
}

fn scan_as_reduce(op: ScanOp) -> ReduceOp {
    match op {
        ScanOp::Sum => ReduceOp::Sum,
        ScanOp::Prod => ReduceOp::Prod,
        ScanOp::Max => ReduceOp::Max,
        ScanOp::Min => ReduceOp::Min,
    }
}

/// The identity of max/min in the range of `dt` (an exclusive scan writes it out).
fn extreme_identity(op: ReduceOp, dt: Dtype) -> Option<&'static str> {
    use Dtype::*;
    Some(match (op, dt) {
        (ReduceOp::Max, Int8) => "-128",
        (ReduceOp::Max, Int16) => "-32768",
        (ReduceOp::Min, Int8) => "127",
        (ReduceOp::Min, Int16) => "32767",
        (ReduceOp::Min, Uint8) => "255u",
        (ReduceOp::Min, Uint16) => "65535u",
        (ReduceOp::Min, Bool) => "1u",
        _ => return None,
    })
}

fn acc_header(h: &mut String, op: ReduceOp, input: Dtype, out: Dtype) {
    let (acc, id, comb, load) = accumulator(op, scalar(input));
    let id = extreme_identity(op, input).unwrap_or(id);
    let sa = scalar(input).wgsl();
    let _ = writeln!(h, "alias ACC = {acc};");
    let _ = writeln!(h, "fn identity() -> ACC {{ return {id}; }}");
    let _ = writeln!(h, "fn combine(a: ACC, b: ACC) -> ACC {{ return {comb}; }}");
    let _ = writeln!(h, "fn load(x: {sa}) -> ACC {{ return {load}; }}");
    let _ = writeln!(h, "fn finish(a: ACC) -> ACC {{ return narrow(a); }}");
    h.push_str(&narrow_fn(out));
}

/// Aliases, buffers, `fn op` and `fn narrow` of a map kernel (scalar or vec4 arrays).
fn map_header(h: &mut String, op: MapOp, inputs: &[Dtype], out: Dtype, vec4: bool) -> Option<()> {
    let _ = writeln!(h, "const ARITY: u32 = {}u;", inputs.len());
    let mut decl = vec![];
    let wrap = |t: &'static str| {
        if vec4 {
            format!("vec4<{t}>")
        } else {
            t.to_string()
        }
    };
    for (i, d) in inputs.iter().enumerate() {
        let _ = writeln!(h, "alias {} = {};", ALIASES[i], scalar(*d).wgsl());
        decl.push((NAMES[i], wrap(ALIASES[i])));
    }
    let _ = writeln!(h, "alias SO = {};", scalar(out).wgsl());
    let decl: Vec<(&str, &str)> = decl.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let so = wrap("SO");
    buffers(h, &decl, ("O", &so));
    let (params, expr) = match op {
        MapOp::Unary(u) => ("x: SA", unary_expr(u, inputs[0])?.to_string()),
        MapOp::Binary(b) => ("a: SA, b: SB", binary_expr(b, inputs[0])?.to_string()),
        MapOp::Select => ("c: SA, a: SB, b: SC", "select(b, a, c != 0u)".to_string()),
        MapOp::Cast => ("x: SA", cast_expr(inputs[0], out)),
        MapOp::Copy => ("x: SA", "x".to_string()),
    };
    let _ = writeln!(h, "fn op({params}) -> SO {{ return {expr}; }}");
    h.push_str(&narrow_fn(out));
    Some(())
}

/// Float dtypes and MLX's bit widths only.
fn quant_ok(dt: Dtype, bits: u32) -> bool {
    Scalar::of(dt) == Some(Scalar::F32) && [2, 3, 4, 5, 6, 8].contains(&bits)
}

/// `sdpa_coop.wgsl` with its blocks unrolled for head dimension `d` (`d / 16` fragments of q in
/// registers, as many f32 output accumulators; 4 score tiles per 64 keys).
fn sdpa_coop_body(d: u32) -> String {
    let frags = d / 16;
    let (a16, b16, c32) = (
        "coop_mat16x16<f16, A>",
        "coop_mat16x16<f16, B>",
        "coop_mat16x16<f32, C>",
    );
    let mut qfrags = String::new();
    let mut ozero = String::new();
    for j in 0..frags {
        let _ = writeln!(
            qfrags,
            "    let q{j} = coopLoadT<{a16}>(&KV[sg * 16u * LDD + {}u], LDD);",
            j * 16
        );
        let _ = writeln!(ozero, "    var o{j} = {c32}();");
    }
    let mut scores = String::new();
    for x in 0..4 {
        let _ = writeln!(scores, "            var s{x} = {c32}();");
    }
    for j in 0..frags {
        for x in 0..4 {
            let _ = writeln!(
                scores,
                "        s{x} = coopMultiplyAdd(q{j}, coopLoad<{b16}>(&KV[{}u * LDD + {}u], LDD), s{x});",
                x * 16,
                j * 16
            );
        }
    }
    for x in 0..4 {
        let _ = writeln!(
            scores,
            "        coopStoreT(s{x}, &Ss[sg * 1024u + {}u], 64u);",
            x * 16
        );
    }
    let mut pv = String::new();
    for x in 0..4 {
        let _ = writeln!(
            pv,
            "        let p{x} = coopLoadT<{a16}>(&Ps[sg * 16u * LDP + {}u], LDP);",
            x * 16
        );
    }
    for x in 0..4 {
        for j in 0..frags {
            let _ = writeln!(
                pv,
                "        o{j} = coopMultiplyAdd(p{x}, coopLoadT<{b16}>(&KV[{}u * LDD + {}u], LDD), o{j});",
                x * 16,
                j * 16
            );
        }
    }
    let mut ostore = String::new();
    for j in 0..frags {
        let _ = write!(
            ostore,
            "    coopStoreT(o{j}, &Ss[sg * 256u], 16u);
    workgroupBarrier();
    for (var e = 0u; e < 8u; e = e + 1u) {{
        let idx = lane + e * 32u;
        let row = i0 + sg * 16u + idx / 16u;
        // a row that sees no key is NaN, as the composed softmax gives
        let v = select(bitcast<f32>(0x7fc00000u), Ss[sg * 256u + idx], seen[sg * 16u + idx / 16u] != 0u);
        if (row < P.lq) {{ O[((b * P.hq + h) * P.lq + row) * D + {}u + idx % 16u] = narrow(v); }}
    }}
    workgroupBarrier();
",
            j * 16
        );
    }
    include_str!("../kernels/sdpa_coop.wgsl")
        .replace("    //@QFRAGS\n", &qfrags)
        .replace("    //@OZERO\n", &ozero)
        .replace("        //@SCORES\n", &scores)
        .replace("        //@PV\n", &pv)
        .replace("    //@OSTORE\n", &ostore)
}

/// `matmul_coop.wgsl` with its fragment loads for the tiles' layouts (`a_km`, `b_km`: k-major).
fn matmul_coop_body(a_km: bool, b_km: bool) -> String {
    let (a16, b16) = ("coop_mat16x16<f16, A>", "coop_mat16x16<f16, B>");
    let mut mma = String::new();
    for a in 0..2 {
        let load = match a_km {
            true => format!("coopLoad<{a16}>(&As[kk * LMN + sm + {}u], LMN)", a * 16),
            false => format!("coopLoadT<{a16}>(&As[(sm + {}u) * LK + kk], LK)", a * 16),
        };
        let _ = writeln!(mma, "            let a{a} = {load};");
    }
    for n in 0..4 {
        let load = match b_km {
            true => format!("coopLoadT<{b16}>(&Bs[kk * LMN + sn + {}u], LMN)", n * 16),
            false => format!("coopLoad<{b16}>(&Bs[(sn + {}u) * LK + kk], LK)", n * 16),
        };
        let _ = writeln!(mma, "            let b{n} = {load};");
    }
    for a in 0..2 {
        for n in 0..4 {
            let _ = writeln!(
                mma,
                "            c{a}{n} = coopMultiplyAdd(a{a}, b{n}, c{a}{n});"
            );
        }
    }
    include_str!("../kernels/matmul_coop.wgsl").replace("            //@MMA\n", &mma)
}

/// `qmm_coop.wgsl` with a subgroup's `frags` x 4 accumulators, their products and their stores
/// unrolled.
fn qmm_coop_body(frags: u32) -> String {
    let (a16, b16) = ("coop_mat16x16<f16, A>", "coop_mat16x16<f16, B>");
    let (mut acc, mut mma, mut store) = (String::new(), String::new(), String::new());
    for a in 0..frags {
        let _ = writeln!(
            mma,
            "            let a{a} = coopLoadT<{a16}>(&As[(sm + {}u) * LD + kk], LD);",
            a * 16
        );
    }
    for n in 0..4 {
        let _ = writeln!(
            mma,
            "            let b{n} = coopLoad<{b16}>(&Bs[(sn + {}u) * LD + kk], LD);",
            n * 16
        );
    }
    for a in 0..frags {
        for n in 0..4 {
            let _ = writeln!(acc, "    var c{a}{n} = coop_mat16x16<f32, C>();");
            let _ = writeln!(
                mma,
                "            c{a}{n} = coopMultiplyAdd(a{a}, b{n}, c{a}{n});"
            );
            let _ = write!(
                store,
                "    coopStoreT(c{a}{n}, &Cs[scratch], 16u);
    workgroupBarrier();
    for (var e = 0u; e < 8u; e = e + 1u) {{
        let idx = lane + e * 32u;
        let r = row0 + sm + {}u + idx / 16u;
        let c = col0 + sn + {}u + idx % 16u;
        if (r < P.m && c < P.n) {{ O[r * P.n + c] = narrow(Cs[scratch + idx]); }}
    }}
    workgroupBarrier();
",
                a * 16,
                n * 16
            );
        }
    }
    include_str!("../kernels/qmm_coop.wgsl")
        .replace("    //@ACC\n", &acc)
        .replace("            //@MMA\n", &mma)
        .replace("    //@STORE\n", &store)
}

/// `BITS` and `MASK` of the quantized kernels.
fn quant_header(h: &mut String, bits: u32) {
    let _ = writeln!(h, "const BITS: u32 = {bits}u;");
    let _ = writeln!(h, "const MASK: u32 = {}u;", (1u32 << bits) - 1);
}

/// Scales (binding `first`) and biases (`first + 1`) of a quantized kernel in `store`, read
/// through `fn scale(i: u32) -> f32` and `fn bias(i: u32) -> f32` (element indices).
fn scale_bias_header(h: &mut String, first: u32, store: ScaleStore) {
    let ty = if store == ScaleStore::Wide {
        "f32"
    } else {
        "u32"
    };
    for (name, f) in [("SC", "scale"), ("BI", "bias")] {
        let _ = writeln!(
            h,
            "@group(0) @binding({}) var<storage, read> {name}: array<{ty}>;",
            if name == "SC" { first } else { first + 1 }
        );
        let body = match store {
            ScaleStore::Wide => format!("return {name}[i];"),
            ScaleStore::F16 => format!("return unpack2x16float({name}[i >> 1u])[i & 1u];"),
            ScaleStore::F16Pair => format!(
                "return unpack2x16float({name}[i]).{};",
                if name == "SC" { "x" } else { "y" }
            ),
            ScaleStore::Bf16 => format!("let w = {name}[i >> 1u];\n    return bitcast<f32>(select(w << 16u, w & 0xffff0000u, (i & 1u) == 1u));"),
        };
        let _ = writeln!(h, "fn {f}(i: u32) -> f32 {{\n    {body}\n}}");
    }
}

/// Packed 16-bit floats to f32, one value per invocation.
const UNPACK16: &str = "struct Params { n: u32, pad0: u32, pad1: u32, pad2: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)
@group(0) @binding(2) var<storage, read> S: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= P.n) { return; }
    O[i] = value(S[i >> 1u], i & 1u);
}
";

/// `take(a, I, 0)` of a 2-D strided view `a` (`KernelKey::GatherRows`): out `[ni, inner]`.
const GATHER_ROWS: &str = "struct Params {
    total: u32,
    ni: u32,
    n: u32,     // rows of the source
    inner: u32, // values per row
    off_a: u32,
    s0: u32,    // row stride
    s1: u32,    // value stride
    pad: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let p = linear_id(wid, nwg, lid, 256u);
    if (p >= P.total) { return; }
    let j = p % P.inner;
    let r = p / P.inner;
    O[p] = load(P.off_a + fix_index(I[r], P.n) * P.s0 + j * P.s1);
}
";

/// Value `i` of the packed bit stream whose first word is `W[base]` (values may straddle words).
const QVAL: &str = "fn qval(base: u32, i: u32) -> u32 {
    let bit = i * BITS;
    let wi = base + (bit >> 5u);
    let sh = bit & 31u;
    var v = W[wi] >> sh;
    if (sh + BITS > 32u) { v = v | (W[wi + 1u] << (32u - sh)); }
    return v & MASK;
}
";

/// Words per load of the mat-vec kernel: a chunk of 32 values is `bits` words, read as vec4
/// (4, 8 bits), vec2 (2, 6 bits) or single words (3, 5 bits).
pub fn qmv_vec_width(bits: u32) -> u32 {
    if bits % 4 == 0 {
        4
    } else if bits % 2 == 0 {
        2
    } else {
        1
    }
}

/// Entry point of `qmv.wgsl` adding the partial sums with subgroup sums, then one workgroup
/// slot per subgroup (no assumption on the subgroup size).
const QMV_ENTRY_SUBGROUPS: &str = "@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32, @builtin(subgroup_id) sg: u32,
        @builtin(num_subgroups) nsg: u32, @builtin(subgroup_invocation_id) sgi: u32) {
    let blk = wid.x + wid.y * nwg.x;
    if (blk >= P.blocks) { return; } // whole workgroups only
    let acc = accumulate(blk, lid);
    for (var i = 0u; i < NRED; i = i + 1u) {
        let s = subgroupAdd(acc[i]);
        if (sgi == 0u) { red[i * WGS + sg] = s; }
    }
    workgroupBarrier();
    outputs(blk, lid, nsg);
}

/// Sum `i` of the workgroup: its subgroups' slots added.
fn total(i: u32, nsg: u32) -> f32 {
    var s = 0.0;
    for (var j = 0u; j < nsg; j = j + 1u) { s = s + red[i * WGS + j]; }
    return s;
}
";

/// Entry point of `qmv.wgsl` adding the partial sums as a tree in workgroup memory.
const QMV_ENTRY_TREE: &str = "@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let blk = wid.x + wid.y * nwg.x;
    if (blk >= P.blocks) { return; } // whole workgroups only: no barrier is skipped by half of one
    let acc = accumulate(blk, lid);
    for (var i = 0u; i < NRED; i = i + 1u) { red[i * WGS + lid] = acc[i]; }
    workgroupBarrier();
    for (var s = WGS / 2u; s > 0u; s = s / 2u) {
        if (lid < s) {
            for (var i = 0u; i < NRED; i = i + 1u) { red[i * WGS + lid] = red[i * WGS + lid] + red[i * WGS + lid + s]; }
        }
        workgroupBarrier();
    }
    outputs(blk, lid, 1u);
}

/// Sum `i` of the workgroup: the root of its tree.
fn total(i: u32, nsg: u32) -> f32 { return red[i * WGS]; }
";

/// `fn product(i, nsg)` (sum `i` of the workgroup as the product's value: times x's inverse RMS
/// with `norm`, narrowed) and `fn value(blk, i, nsg)` (output slot `i`: with `glu`,
/// `silu(gate) · up` of slots `i` and `i + NOUT` as `silu_mul` computes it; with `rope`, rows
/// below `P.rope_rows` rotated with their pair's other row as rope.wgsl computes it) of
/// `qmv.wgsl`.
fn qmv_output_fns(norm: bool, glu: bool, rope: bool) -> String {
    let scaled = if norm {
        "total(i, nsg) * inverseSqrt(total(NACC + i % MR, nsg) / f32(P.k) + P.eps)"
    } else {
        "total(i, nsg)"
    };
    let value = if glu {
        "let g = product(i, nsg);\n    let u = product(i + NOUT, nsg);\n    return narrow(g / (1.0 + exp(-g)) * u);"
    } else if rope {
        QMV_ROPE_VALUE
    } else {
        "return product(i, nsg);"
    };
    format!(
        "fn product(i: u32, nsg: u32) -> f32 {{\n    return narrow({scaled});\n}}\nfn value(blk: u32, i: u32, nsg: u32) -> f32 {{\n    {value}\n}}\n"
    )
}

/// Body of `fn value` with a traditional RoPE: slot `i`'s row pairs with the adjacent row of
/// the workgroup (`RPW` even), position `P.rope_off + (row of x) % P.rope_l`; the same f32
/// operations as rope.wgsl, so the rotation of the narrowed product matches it bit for bit.
const QMV_ROPE_VALUE: &str = "let v = product(i, nsg);
    let r = i / MR;
    let row = blk * RPW + r;
    let j = row % P.head_dim;
    if (row >= P.rope_rows || j >= P.rope_dims) { return v; }
    let first = (r % 2u) == 0u;
    let other = product(select(i - MR, i + MR, first), nsg);
    let inv = exp(-f32(j / 2u) * P.rope_log_base);
    let theta = (f32(P.rope_off + (i % MR) % P.rope_l) * P.rope_scale) * inv;
    let c = cos(theta);
    let s = sin(theta);
    if (first) { return narrow(v * c - other * s); }
    return narrow(other * s + v * c);";

/// What a generated mat-vec step reads and how (see [`qmv_accumulate_fn`]).
#[derive(Clone, Copy)]
struct QmvShape {
    /// 2/4/8-bit weights by packed words (else 32-value chunks).
    by_word: bool,
    /// 4-bit weights against x quantized to int8 levels.
    int8: bool,
    /// x times the norm's weight, Σx² returned after the products.
    norm: bool,
    /// Rows `[0, rpw/2)` from the gate half, the rest from the up half (`P.n` rows later).
    glu: bool,
    /// Scale and bias of a group in one word (`ScaleStore::F16Pair`).
    pair: bool,
}

/// `fn accumulate(blk: u32, lid: u32) -> array<f32, NACC>` of `qmv.wgsl`, generated
/// straight-line for `mr` rows of x and `rpw` weight rows, `unroll` steps per pass with every
/// load of the pass issued before its math (so they are in flight together). Named values
/// instead of arrays keep everything in registers whatever the driver's compiler unrolls.
///
/// Steps: for 2, 4 and 8 bits (`by_word`), packed words — invocation `lid` takes words `lid`,
/// `lid + WGS`, ... of every row, so a warp's load reads 128 contiguous bytes of a row and the
/// 32 / BITS values of x a word needs sit next to its neighbours' (with 32-value chunks a warp's
/// x loads spanned 32 lanes x 128 bytes, 4x the load unit's transactions); the group of word `w`
/// is `w >> P.wpg_shift`. For 3, 5 and 6 bits, chunks of 32 values (BITS words, vec loads).
///
/// Unpacking: small integers become floats through the exponent trick (`2^23 + q` as bits,
/// minus `2^23`), an OR and an add instead of a conversion. For 2, 4 and 8 bits (values never
/// straddle a word) value `i` is not shifted down from bit `s = i·bits` within its 16-bit half
/// word: the mask and OR (one instruction) give `2^23 + q·2^s` exactly (`q·2^s < 2^16`), and x
/// is pre-scaled by `2^-s` (exact: a power of two) once per step for all rows. Other widths
/// shift each value down (and join the two words a value straddles).
///
/// With `int8` (4 bits only) x arrives quantized by `qx.wgsl` and each word's 8 products are
/// four packed int8 dot products (`dot4I8Packed`: DP4A where the adapter has integer dot
/// products) instead of ~30 float operations. Measured on the H200 it is slower than the float
/// kernel (the extra dispatch, and the float kernel is not bound by its arithmetic there), so it
/// is opt-in (`MLX_ARM_QMV_INT8=1`), for adapters short of float throughput.
fn qmv_accumulate_fn(bits: u32, mr: u32, rpw: u32, unroll: u32, shape: QmvShape) -> String {
    let QmvShape {
        by_word,
        int8,
        norm,
        glu,
        pair,
    } = shape;
    let step = |t: &str| -> (String, String) {
        if int8 {
            (qmv_int_loads(mr, rpw, pair, t), qmv_int_math(mr, rpw, t))
        } else if by_word {
            (
                qmv_word_loads(bits, mr, rpw, shape, t),
                qmv_word_math(bits, mr, rpw, t),
            )
        } else {
            (
                qmv_chunk_loads(bits, mr, rpw, shape, t),
                qmv_chunk_math(bits, mr, rpw, t),
            )
        }
    };
    // steps per row: packed words, or chunks of 32 values
    let bound = if by_word || int8 { "P.rw" } else { "chunks" };
    let mut s = String::from("fn accumulate(blk: u32, lid: u32) -> array<f32, NRED> {\n");
    // rows past N re-read the last row (no branch around the loads); never written
    if glu {
        let half = rpw / 2;
        for r in 0..rpw {
            let (first, i) = if r < half {
                ("", r)
            } else {
                ("P.n + ", r - half)
            };
            let _ = writeln!(
                s,
                "    let r{r} = {first}min(blk * {half}u + {i}u, P.n - 1u);"
            );
        }
    } else {
        for r in 0..rpw {
            let _ = writeln!(s, "    let r{r} = min(blk * RPW + {r}u, P.n - 1u);");
        }
    }
    for i in 0..mr * rpw {
        let _ = writeln!(s, "    var a{i} = 0.0;");
    }
    for m in 0..mr {
        if norm {
            let _ = writeln!(s, "    var sq{m} = 0.0;");
        }
    }
    s.push_str("    let chunks = P.k / 32u;\n    var c = lid;\n");
    if unroll > 1 {
        let _ = writeln!(
            s,
            "    for (; c + {}u * WGS < {bound}; c = c + {unroll}u * WGS) {{",
            unroll - 1
        );
        let tags: Vec<String> = (0..unroll).map(|u| format!("u{u}")).collect();
        for (u, t) in tags.iter().enumerate() {
            let _ = writeln!(s, "        let c{t} = c + {u}u * WGS;");
        }
        let steps: Vec<(String, String)> = tags.iter().map(|t| step(t)).collect();
        steps.iter().for_each(|(loads, _)| s.push_str(loads));
        steps.iter().for_each(|(_, math)| s.push_str(math));
        s.push_str("    }\n");
    }
    let _ = writeln!(
        s,
        "    for (; c < {bound}; c = c + WGS) {{\n        let cu = c;"
    );
    let (loads, math) = step("u");
    s.push_str(&loads);
    s.push_str(&math);
    let mut accs: Vec<String> = (0..mr * rpw).map(|i| format!("a{i}")).collect();
    if norm {
        accs.extend((0..mr).map(|m| format!("sq{m}")));
    }
    let _ = writeln!(
        s,
        "    }}\n    return array<f32, NRED>({});\n}}",
        accs.join(", ")
    );
    s
}

/// The loads of packed word `c{t}` of every row with its group's scale and bias.
fn qmv_weight_word_loads(rpw: u32, pair: bool, t: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "        let gi{t} = c{t} >> P.wpg_shift;");
    for r in 0..rpw {
        let _ = writeln!(s, "        let w{r}{t} = W[P.off_w + r{r} * P.rw + c{t}];");
    }
    qmv_scale_loads(&mut s, rpw, pair, t);
    s
}

/// The scale `s{r}{t}` and bias `b{r}{t}` of group `gi{t}` of every row: one word holding both
/// (`pair`: `ScaleStore::F16Pair`), or through `scale` and `bias`.
fn qmv_scale_loads(s: &mut String, rpw: u32, pair: bool, t: &str) {
    for r in 0..rpw {
        if pair {
            let _ = writeln!(s, "        let sb{r}{t} = unpack2x16float(SC[P.off_s + r{r} * P.g + gi{t}]);\n        let s{r}{t} = sb{r}{t}.x;\n        let b{r}{t} = sb{r}{t}.y;");
        } else {
            let _ = writeln!(s, "        let s{r}{t} = scale(P.off_s + r{r} * P.g + gi{t});\n        let b{r}{t} = bias(P.off_b + r{r} * P.g + gi{t});");
        }
    }
}

/// The loads for packed word `c{t}` of every row: the words, scales, biases and x.
fn qmv_word_loads(bits: u32, mr: u32, rpw: u32, shape: QmvShape, t: &str) -> String {
    let xv = 32 / bits / 4; // vec4s of x per word
    let mut s = qmv_weight_word_loads(rpw, shape.pair, t);
    qmv_x_loads(&mut s, mr, xv, shape.norm, t);
    s
}

/// The loads of x for step `c{t}` (`xv` vec4s per row of x, from vec4 `c{t} · xv`) into
/// `x{m}_{j}{t}`; with `norm`, times the norm's weight, their squares added into `sq{m}`.
fn qmv_x_loads(s: &mut String, mr: u32, xv: u32, norm: bool, t: &str) {
    if norm {
        let _ = writeln!(s, "        let gb{t} = P.off_g / 4u + c{t} * {xv}u;");
    }
    for m in 0..mr {
        let _ = writeln!(
            s,
            "        let xb{m}{t} = (P.off_x + {m}u * P.k) / 4u + c{t} * {xv}u;"
        );
        for j in 0..xv {
            if norm {
                let raw = format!("xr{m}_{j}{t}");
                let _ = writeln!(s, "        let {raw} = X[xb{m}{t} + {j}u];");
                let _ = writeln!(s, "        sq{m} = sq{m} + dot({raw}, {raw});");
                let _ = writeln!(s, "        let x{m}_{j}{t} = {raw} * G[gb{t} + {j}u];");
            } else {
                let _ = writeln!(s, "        let x{m}_{j}{t} = X[xb{m}{t} + {j}u];");
            }
        }
    }
}

/// The loads for 4-bit word `c{t}` of every row with quantized x: the words, scales, biases,
/// and per row of x the word's two int8 levels (`XQ`, vec4 of packed bytes) and its step and sum
/// (`XF`).
fn qmv_int_loads(mr: u32, rpw: u32, pair: bool, t: &str) -> String {
    let mut s = qmv_weight_word_loads(rpw, pair, t);
    for m in 0..mr {
        let _ = writeln!(s, "        let xq{m}{t} = X[{m}u * P.rw + c{t}];");
        let _ = writeln!(s, "        let xf{m}{t} = XF[{m}u * P.rw + c{t}];");
    }
    s
}

/// Integer dots of 4-bit word `c{t}` with both levels of x (`254·Σ q·q1 + Σ q·q2`, exact in
/// i32 and in f32), scaled by the block's step, into the accumulators.
fn qmv_int_math(mr: u32, rpw: u32, t: &str) -> String {
    let mut s = String::new();
    for r in 0..rpw {
        let _ = writeln!(s, "        let lo{r}{t} = w{r}{t} & 0x0F0F0F0Fu;");
        let _ = writeln!(s, "        let hi{r}{t} = (w{r}{t} >> 4u) & 0x0F0F0F0Fu;");
        for m in 0..mr {
            let i = r * mr + m;
            let (lo, hi, x) = (
                format!("lo{r}{t}"),
                format!("hi{r}{t}"),
                format!("xq{m}{t}"),
            );
            let coarse = format!("dot4I8Packed({lo}, {x}.x) + dot4I8Packed({hi}, {x}.y)");
            let fine = format!("dot4I8Packed({lo}, {x}.z) + dot4I8Packed({hi}, {x}.w)");
            let _ = writeln!(s, "        let n{i}{t} = 254 * ({coarse}) + ({fine});");
            let _ = writeln!(
                s,
                "        a{i} = a{i} + (s{r}{t} * (f32(n{i}{t}) * xf{m}{t}.x) + b{r}{t} * xf{m}{t}.y);"
            );
        }
    }
    s
}

/// Unpacking and multiply-adds of packed word `c{t}` into the accumulators.
fn qmv_word_math(bits: u32, mr: u32, rpw: u32, t: &str) -> String {
    let xv = 32 / bits / 4;
    let mut s = String::new();
    let sum = |terms: Vec<String>| -> String {
        let mut v = terms;
        while v.len() > 1 {
            v = v
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        format!("({} + {})", p[0], p[1])
                    } else {
                        p[0].clone()
                    }
                })
                .collect();
        }
        v.pop().unwrap_or_default()
    };
    for m in 0..mr {
        let _ = writeln!(
            s,
            "        let xt{m}{t} = {};",
            sum((0..xv).map(|j| format!("x{m}_{j}{t}")).collect())
        );
        let _ = writeln!(
            s,
            "        let xsum{m}{t} = (xt{m}{t}.x + xt{m}{t}.y) + (xt{m}{t}.z + xt{m}{t}.w);"
        );
        for j in 0..xv {
            let f: Vec<String> = (0..4)
                .map(|l| format!("{:?}", 1.0 / (1u32 << ((4 * j + l) * bits % 16)) as f64))
                .collect();
            let _ = writeln!(
                s,
                "        let y{m}_{j}{t} = x{m}_{j}{t} * vec4<f32>({});",
                f.join(", ")
            );
        }
    }
    for r in 0..rpw {
        let _ = writeln!(s, "        let h{r}{t} = w{r}{t} >> 16u;");
        let val = |i: u32| {
            let sh = i * bits;
            let (src, sh) = if sh < 16 {
                (format!("w{r}{t}"), sh)
            } else {
                (format!("h{r}{t}"), sh - 16)
            };
            format!(
                "(({src} & {:#x}u) | 0x4b000000u)",
                ((1u32 << bits) - 1) << sh
            )
        };
        for j in 0..xv {
            let lanes: Vec<String> = (0..4).map(|l| val(4 * j + l)).collect();
            let _ = writeln!(s, "        let q{r}_{j}{t} = bitcast<vec4<f32>>(vec4<u32>({})) - vec4<f32>(8388608.0);", lanes.join(", "));
        }
        for m in 0..mr {
            let i = r * mr + m;
            let d = sum((0..xv)
                .map(|j| format!("dot(q{r}_{j}{t}, y{m}_{j}{t})"))
                .collect());
            let _ = writeln!(
                s,
                "        a{i} = a{i} + (s{r}{t} * {d} + b{r}{t} * xsum{m}{t});"
            );
        }
    }
    s
}

/// The loads of chunk `c{t}` (values named with suffix `t`): every row's packed words, scales,
/// biases, then x with its sum and (2/4/8 bits) its pre-scaled copy.
fn qmv_chunk_loads(bits: u32, mr: u32, rpw: u32, shape: QmvShape, t: &str) -> String {
    let vw = qmv_vec_width(bits);
    let mut s = String::new();
    let _ = writeln!(s, "        let gi{t} = c{t} / P.cpg;");
    for r in 0..rpw {
        for j in 0..bits / vw {
            let _ = writeln!(s, "        let w{r}_{j}{t} = W[(P.off_w + r{r} * P.rw + c{t} * BITS) / {vw}u + {j}u];");
        }
    }
    qmv_scale_loads(&mut s, rpw, shape.pair, t);
    qmv_x_loads(&mut s, mr, 8, shape.norm, t);
    s
}

/// The unpacking and multiply-adds of chunk `c{t}` into the accumulators.
fn qmv_chunk_math(bits: u32, mr: u32, rpw: u32, t: &str) -> String {
    let vw = qmv_vec_width(bits);
    let unshifted = 16 % bits == 0;
    let mut s = String::new();
    for m in 0..mr {
        let x = |j: u32| format!("x{m}_{j}{t}");
        let _ = writeln!(
            s,
            "        let xt{m}{t} = (({} + {}) + ({} + {})) + (({} + {}) + ({} + {}));",
            x(0),
            x(1),
            x(2),
            x(3),
            x(4),
            x(5),
            x(6),
            x(7)
        );
        let _ = writeln!(
            s,
            "        let xsum{m}{t} = (xt{m}{t}.x + xt{m}{t}.y) + (xt{m}{t}.z + xt{m}{t}.w);"
        );
        for j in 0..8u32 {
            if unshifted {
                let f: Vec<String> = (0..4)
                    .map(|l| format!("{:?}", 1.0 / (1u32 << ((4 * j + l) * bits % 16)) as f64))
                    .collect();
                let _ = writeln!(
                    s,
                    "        let y{m}_{j}{t} = {} * vec4<f32>({});",
                    x(j),
                    f.join(", ")
                );
            } else {
                let _ = writeln!(s, "        let y{m}_{j}{t} = {};", x(j));
            }
        }
    }
    for r in 0..rpw {
        let word = |w: u32| {
            if vw == 1 {
                format!("w{r}_{w}{t}")
            } else {
                format!(
                    "w{r}_{}{t}.{}",
                    w / vw,
                    ["x", "y", "z", "w"][(w % vw) as usize]
                )
            }
        };
        if unshifted {
            for w in 0..bits {
                let _ = writeln!(s, "        let h{r}_{w}{t} = {} >> 16u;", word(w));
            }
        }
        let val = |i: u32| {
            let bit = i * bits;
            let (wi, sh) = (bit / 32, bit % 32);
            if unshifted {
                let (src, sh) = if sh < 16 {
                    (word(wi), sh)
                } else {
                    (format!("h{r}_{wi}{t}"), sh - 16)
                };
                return format!(
                    "(({src} & {:#x}u) | 0x4b000000u)",
                    ((1u32 << bits) - 1) << sh
                );
            }
            let lo = if sh == 0 {
                word(wi)
            } else {
                format!("({} >> {sh}u)", word(wi))
            };
            let v = if sh + bits > 32 {
                format!("({lo} | ({} << {}u))", word(wi + 1), 32 - sh)
            } else {
                lo
            };
            let masked = if sh + bits == 32 && sh != 0 {
                v
            } else {
                format!("({v} & MASK)")
            };
            format!("({masked} | 0x4b000000u)")
        };
        for j in 0..8 {
            let lanes: Vec<String> = (0..4).map(|l| val(4 * j + l)).collect();
            let _ = writeln!(s, "        let q{r}_{j}{t} = bitcast<vec4<f32>>(vec4<u32>({})) - vec4<f32>(8388608.0);", lanes.join(", "));
        }
        for m in 0..mr {
            let d = |j: u32| format!("dot(q{r}_{j}{t}, y{m}_{j}{t})");
            let i = r * mr + m;
            let _ = writeln!(
                s,
                "        a{i} = a{i} + (s{r}{t} * (((({} + {}) + ({} + {})) + (({} + {}) + ({} + {})))) + b{r}{t} * xsum{m}{t});",
                d(0), d(1), d(2), d(3), d(4), d(5), d(6), d(7)
            );
        }
    }
    s
}

impl KernelKey {
    /// Entry points of this kernel.
    pub fn entry_points(&self) -> &'static [&'static str] {
        match self {
            KernelKey::Sort { .. } => &["init", "step", "finish"],
            KernelKey::ArgReduce { .. } => &["main", "partial", "combine"],
            _ => &["main"],
        }
    }

    /// The full WGSL source, or `None` when the op is undefined for the dtypes.
    pub fn source(&self) -> Option<String> {
        if let KernelKey::RandomBits = self {
            return Some(format!(
                "{COMMON}\n{}",
                include_str!("../kernels/random.wgsl")
            ));
        }
        if let KernelKey::QuantizeX = self {
            return Some(format!("{COMMON}\n{}", include_str!("../kernels/qx.wgsl")));
        }
        if let KernelKey::Unpack16 { bf16 } = self {
            let value = if *bf16 {
                "bitcast<f32>(select(w << 16u, w & 0xffff0000u, hi == 1u))"
            } else {
                "unpack2x16float(w)[hi]"
            };
            return Some(format!("{COMMON}\n// ---- generated header: {self}\nfn value(w: u32, hi: u32) -> f32 {{ return {value}; }}\n{UNPACK16}"));
        }
        if let KernelKey::MatmulCoop { dtype, a_km, b_km } = self {
            if scalar(*dtype) != Scalar::F32 {
                return None;
            }
            let mut h = String::new();
            buffers(&mut h, &[("X", "f32"), ("Y", "f32")], ("O", "f32"));
            h.push_str(&narrow_fn(*dtype));
            let _ = writeln!(h, "const A_KM: bool = {a_km};");
            let _ = writeln!(h, "const B_KM: bool = {b_km};");
            let body = matmul_coop_body(*a_km, *b_km);
            return Some(format!("enable f16;\nenable wgpu_cooperative_matrix;\n{COMMON}\n// ---- generated header: {self}\n{h}\n{MATMUL_PARAMS}\n{body}"));
        }
        if let KernelKey::SdpaCoop { dtype, d, rows } = self {
            let dims_ok = *d > 0 && d % 16 == 0 && *d <= 128 && [32, 64].contains(rows);
            if scalar(*dtype) != Scalar::F32 || !dims_ok {
                return None;
            }
            let mut h = String::new();
            let _ = writeln!(h, "const D: u32 = {d}u;");
            let _ = writeln!(h, "const BQ: u32 = {rows}u;");
            let _ = writeln!(h, "const WGS: u32 = {}u;", rows * 2);
            buffers(
                &mut h,
                &[("Q", "vec4<f32>"), ("K", "vec4<f32>"), ("V", "vec4<f32>")],
                ("O", "f32"),
            );
            h.push_str(&narrow_fn(*dtype));
            let body = sdpa_coop_body(*d);
            return Some(format!("enable f16;\nenable wgpu_cooperative_matrix;\n{COMMON}\n// ---- generated header: {self}\n{h}\n{body}"));
        }
        if let KernelKey::QMatmulCoop {
            dtype,
            bits,
            store,
            rows,
            kstep,
            warp_rows,
        } = self
        {
            let shapes_ok = [64, 128].contains(rows)
                && [32, 64].contains(kstep)
                && [32, 64].contains(warp_rows)
                && warp_rows <= rows;
            if !quant_ok(*dtype, *bits) || !shapes_ok {
                return None;
            }
            let mut h = String::new();
            quant_header(&mut h, *bits);
            // packed words 16 values span from their first bit (at most 4)
            let words = match bits {
                2 => 1,
                3 | 4 => 2,
                5 | 6 => 3,
                _ => 4,
            };
            let _ = writeln!(h, "const NW: u32 = {words}u;");
            let _ = writeln!(h, "const WM: u32 = {warp_rows}u;");
            let _ = writeln!(h, "const SG_M: u32 = {}u;", rows / warp_rows);
            let _ = writeln!(h, "const WGS: u32 = {}u;", rows / warp_rows * 64);
            let _ = writeln!(h, "const KSTEP: u32 = {kstep}u;");
            h.push_str("@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;\n");
            h.push_str("@group(0) @binding(3) var<storage, read> W: array<u32>;\n");
            scale_bias_header(&mut h, 4, *store);
            h.push_str("@group(0) @binding(6) var<storage, read_write> O: array<f32>;\n");
            h.push_str(&narrow_fn(*dtype));
            h.push_str(include_str!("../kernels/qmm_params.wgsl"));
            let body = qmm_coop_body(*warp_rows / 16);
            return Some(format!("enable f16;\nenable wgpu_cooperative_matrix;\n{COMMON}\n// ---- generated header: {self}\n{h}\n{body}"));
        }
        let mut h = String::new();
        let body = match self {
            KernelKey::Map {
                op,
                inputs,
                out,
                scalars,
            } => {
                map_header(&mut h, *op, inputs, *out, false)?;
                let offs = ["P.off_a", "P.off_b", "P.off_c"];
                let args: Vec<String> = (0..inputs.len())
                    .map(|i| match scalars & (1 << i) {
                        0 => format!("{}[index_of(i, {i}u, {})]", NAMES[i], offs[i]),
                        _ => format!("bitcast<{}>({})", ALIASES[i], offs[i]),
                    })
                    .collect();
                let _ = writeln!(
                    h,
                    "fn compute(i: u32) -> SO {{ return op({}); }}",
                    args.join(", ")
                );
                include_str!("../kernels/map.wgsl")
            }
            KernelKey::MapVec4 {
                op,
                inputs,
                out,
                scalars,
            } => {
                map_header(&mut h, *op, inputs, *out, true)?;
                let offs = ["P.off_a", "P.off_b", "P.off_c"];
                let loads: Vec<String> = (0..inputs.len())
                    .map(|i| match scalars & (1 << i) {
                        0 => format!("    let v{i} = {}[q + u32({}) / 4u];", NAMES[i], offs[i]),
                        _ => format!(
                            "    let v{i} = vec4<{}>(bitcast<{}>({}));",
                            ALIASES[i], ALIASES[i], offs[i]
                        ),
                    })
                    .collect();
                let lane = |c: &str| {
                    let args: Vec<String> =
                        (0..inputs.len()).map(|i| format!("v{i}.{c}")).collect();
                    format!("narrow(op({}))", args.join(", "))
                };
                let _ = writeln!(
                    h,
                    "fn compute4(q: u32) -> vec4<SO> {{\n{}\n    return vec4<SO>({}, {}, {}, {});\n}}",
                    loads.join("\n"),
                    lane("x"),
                    lane("y"),
                    lane("z"),
                    lane("w")
                );
                include_str!("../kernels/map_vec4.wgsl")
            }
            KernelKey::Reduce { op, input, out } => {
                let sa = scalar(*input).wgsl();
                buffers(&mut h, &[("A", sa)], ("O", scalar(*out).wgsl()));
                acc_header(&mut h, *op, *input, *out);
                include_str!("../kernels/reduce.wgsl")
            }
            KernelKey::ReduceCols { op, input, out } => {
                let sa = scalar(*input).wgsl();
                buffers(&mut h, &[("A", sa)], ("O", scalar(*out).wgsl()));
                acc_header(&mut h, *op, *input, *out);
                include_str!("../kernels/reduce_cols.wgsl")
            }
            KernelKey::ArgReduce { op, input } => {
                let s = scalar(*input);
                let _ = writeln!(h, "alias KEY = {};", s.wgsl());
                buffers(&mut h, &[("A", "KEY")], ("O", "u32"));
                h.push_str("@group(0) @binding(4) var<storage, read_write> PV: array<KEY>;\n");
                h.push_str("@group(0) @binding(5) var<storage, read_write> PI: array<u32>;\n");
                h.push_str(&is_nan_fn(s, "KEY"));
                let cmp = if *op == ArgReduceOp::ArgMax {
                    "a > b"
                } else {
                    "a < b"
                };
                let _ = writeln!(h, "fn better(a: KEY, b: KEY) -> bool {{ return {cmp}; }}");
                include_str!("../kernels/argreduce.wgsl")
            }
            KernelKey::Scan { op, dtype } => {
                let s = scalar(*dtype).wgsl();
                buffers(&mut h, &[("A", s)], ("O", s));
                acc_header(&mut h, scan_as_reduce(*op), *dtype, *dtype);
                include_str!("../kernels/scan.wgsl")
            }
            KernelKey::Matmul { dtype, tile } => {
                if scalar(*dtype) != Scalar::F32 {
                    return None;
                }
                let body = match tile {
                    64 => include_str!("../kernels/matmul.wgsl"),
                    128 => include_str!("../kernels/matmul_128.wgsl"),
                    _ => return None,
                };
                buffers(&mut h, &[("A", "f32"), ("B", "f32")], ("O", "f32"));
                h.push_str(&narrow_fn(*dtype));
                h.push_str(MATMUL_PARAMS);
                body
            }
            KernelKey::Gemv { dtype } => {
                if scalar(*dtype) != Scalar::F32 {
                    return None;
                }
                buffers(&mut h, &[("A", "f32"), ("B", "f32")], ("O", "f32"));
                h.push_str(&narrow_fn(*dtype));
                include_str!("../kernels/gemv.wgsl")
            }
            KernelKey::Softmax { dtype, lse } => {
                if scalar(*dtype) != Scalar::F32 {
                    return None;
                }
                let _ = writeln!(h, "const LOG_SUM_EXP: bool = {lse};");
                buffers(&mut h, &[("A", "f32")], ("O", "f32"));
                h.push_str(&narrow_fn(*dtype));
                include_str!("../kernels/softmax.wgsl")
            }
            KernelKey::RmsNorm { dtype } | KernelKey::Rope { dtype } => {
                if scalar(*dtype) != Scalar::F32 {
                    return None;
                }
                let second = if matches!(self, KernelKey::RmsNorm { .. }) {
                    "W"
                } else {
                    "F"
                };
                buffers(&mut h, &[("A", "f32"), (second, "f32")], ("O", "f32"));
                h.push_str(&narrow_fn(*dtype));
                if matches!(self, KernelKey::RmsNorm { .. }) {
                    include_str!("../kernels/rms_norm.wgsl")
                } else {
                    include_str!("../kernels/rope.wgsl")
                }
            }
            KernelKey::Sdpa { dtype } => {
                if scalar(*dtype) != Scalar::F32 {
                    return None;
                }
                buffers(
                    &mut h,
                    &[("Q", "f32"), ("K", "f32"), ("V", "f32")],
                    ("O", "f32"),
                );
                h.push_str(
                    "@group(0) @binding(6) var<storage, read_write> PML: array<vec2<f32>>;\n",
                );
                h.push_str("@group(0) @binding(7) var<storage, read_write> PO: array<f32>;\n");
                h.push_str(&narrow_fn(*dtype));
                include_str!("../kernels/sdpa.wgsl")
            }
            KernelKey::Gather { along, dtype } => {
                let s = scalar(*dtype).wgsl();
                buffers(&mut h, &[("A", s), ("I", "i32")], ("O", s));
                let _ = writeln!(h, "const TAKE_ALONG: bool = {along};");
                include_str!("../kernels/gather.wgsl")
            }
            KernelKey::GatherRows { dtype, store } => {
                let s = scalar(*dtype).wgsl();
                let (a, load) = match store {
                    ScaleStore::Wide => (s, "A[i]"),
                    ScaleStore::F16 => ("u32", "unpack2x16float(A[i >> 1u])[i & 1u]"),
                    ScaleStore::Bf16 => (
                        "u32",
                        "bitcast<f32>(select(A[i >> 1u] << 16u, A[i >> 1u] & 0xffff0000u, (i & 1u) == 1u))",
                    ),
                    ScaleStore::F16Pair => return None,
                };
                if *store != ScaleStore::Wide && s != "f32" {
                    return None;
                }
                buffers(&mut h, &[("A", a), ("I", "i32")], ("O", s));
                let _ = writeln!(h, "fn load(i: u32) -> {s} {{ return {load}; }}");
                GATHER_ROWS
            }
            KernelKey::Scatter { add, dtype } => {
                let s = scalar(*dtype);
                let ty = s.wgsl();
                let _ = writeln!(h, "alias SO = {ty};");
                let _ = writeln!(h, "@group(0) @binding(2) var<storage, read> U: array<SO>;");
                let _ = writeln!(h, "@group(0) @binding(3) var<storage, read> I: array<i32>;");
                match (add, s) {
                    (false, _) => {
                        h.push_str(
                            "@group(0) @binding(4) var<storage, read_write> O: array<SO>;\n",
                        );
                        h.push_str("fn put(off: u32, v: SO) { O[off] = v; }\n");
                    }
                    (true, Scalar::F32) => {
                        h.push_str("@group(0) @binding(4) var<storage, read_write> O: array<atomic<u32>>;\n");
                        h.push_str(
                            "fn put(off: u32, v: SO) {\n    var old = atomicLoad(&O[off]);\n    loop {\n        \
                             let r = atomicCompareExchangeWeak(&O[off], old, bitcast<u32>(bitcast<f32>(old) + v));\n        \
                             if (r.exchanged) { break; }\n        old = r.old_value;\n    }\n}\n",
                        );
                    }
                    (true, _) => {
                        let _ = writeln!(h, "@group(0) @binding(4) var<storage, read_write> O: array<atomic<{ty}>>;");
                        h.push_str("fn put(off: u32, v: SO) { atomicAdd(&O[off], v); }\n");
                    }
                }
                include_str!("../kernels/scatter.wgsl")
            }
            KernelKey::Sort { dtype, indices } => {
                let s = scalar(*dtype);
                let ty = s.wgsl();
                let _ = writeln!(h, "alias SA = {ty};");
                h.push_str("@group(0) @binding(2) var<storage, read> A: array<SA>;\n");
                h.push_str("@group(0) @binding(3) var<storage, read_write> K: array<SA>;\n");
                h.push_str("@group(0) @binding(4) var<storage, read_write> I: array<u32>;\n");
                let so = if *indices { "u32" } else { ty };
                let _ = writeln!(
                    h,
                    "@group(0) @binding(5) var<storage, read_write> O: array<{so}>;"
                );
                h.push_str(&is_nan_fn(s, "SA"));
                let src = if *indices { "I" } else { "K" };
                let _ = writeln!(h, "fn out_value(t: u32) -> {so} {{ return {src}[t]; }}");
                include_str!("../kernels/sort.wgsl")
            }
            KernelKey::Arange { dtype } => {
                let s = scalar(*dtype);
                let ty = s.wgsl();
                let _ = writeln!(
                    h,
                    "@group(0) @binding(2) var<storage, read_write> O: array<{ty}>;"
                );
                let value = match s {
                    Scalar::F32 => "P.start_f + f32(i) * P.step_f".to_string(),
                    Scalar::I32 => "select(i32(trunc(P.start_f + f32(i) * P.step_f)), P.start_i + i32(i) * P.step_i, P.integral == 1u)".into(),
                    Scalar::U32 => "select(u32(max(trunc(P.start_f + f32(i) * P.step_f), 0.0)), u32(P.start_i + i32(i) * P.step_i), P.integral == 1u)".into(),
                };
                let _ = writeln!(h, "fn value(i: u32) -> {ty} {{ return {value}; }}");
                h.push_str(&narrow_fn(*dtype));
                include_str!("../kernels/arange.wgsl")
            }
            KernelKey::QDequantize { dtype, bits, store } => {
                if !quant_ok(*dtype, *bits) {
                    return None;
                }
                quant_header(&mut h, *bits);
                h.push_str("@group(0) @binding(2) var<storage, read> W: array<u32>;\n");
                scale_bias_header(&mut h, 3, *store);
                h.push_str("@group(0) @binding(5) var<storage, read_write> O: array<f32>;\n");
                h.push_str(&narrow_fn(*dtype));
                h.push_str(QVAL);
                include_str!("../kernels/qdequantize.wgsl")
            }
            KernelKey::QMatvec {
                dtype,
                bits,
                rows,
                rpw,
                warps,
                unroll,
                subgroups,
                store,
                int8,
                residual,
                chunks,
                norm,
                glu,
                rope,
            } => {
                if !quant_ok(*dtype, *bits)
                    || !(1..=4).contains(rows)
                    || ![1, 2, 4, 8, 16].contains(rpw)
                    || ![1, 2, 4, 8].contains(warps)
                    || ![1, 2, 4, 8].contains(unroll)
                    || (*int8 && (*bits != 4 || *norm))
                    || ((*glu || *rope) && *rpw < 2)
                    || (*glu && *rope)
                {
                    return None;
                }
                quant_header(&mut h, *bits);
                let _ = writeln!(h, "const MR: u32 = {rows}u;");
                let _ = writeln!(h, "const RPW: u32 = {rpw}u;");
                let _ = writeln!(h, "const WARPS: u32 = {warps}u;");
                let nacc = rpw * rows;
                let _ = writeln!(
                    h,
                    "const NRED: u32 = {}u;",
                    nacc + if *norm { *rows } else { 0 }
                );
                let _ = writeln!(
                    h,
                    "const NOUT: u32 = {}u;",
                    if *glu { nacc / 2 } else { nacc }
                );
                h.push_str(if *subgroups {
                    QMV_ENTRY_SUBGROUPS
                } else {
                    QMV_ENTRY_TREE
                });
                h.push_str(&qmv_output_fns(*norm, *glu, *rope));
                if *norm {
                    h.push_str("@group(0) @binding(9) var<storage, read> G: array<vec4<f32>>;\n");
                }
                let by_word = 16 % bits == 0 && !*chunks;
                let vw = if by_word { 1 } else { qmv_vec_width(*bits) };
                let wty = if vw == 1 {
                    "u32".to_string()
                } else {
                    format!("vec{vw}<u32>")
                };
                if *int8 {
                    h.push_str("@group(0) @binding(2) var<storage, read> X: array<vec4<u32>>;\n");
                    h.push_str("@group(0) @binding(7) var<storage, read> XF: array<vec2<f32>>;\n");
                } else {
                    h.push_str("@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;\n");
                }
                let _ = writeln!(
                    h,
                    "@group(0) @binding(3) var<storage, read> W: array<{wty}>;"
                );
                scale_bias_header(&mut h, 4, *store);
                h.push_str("@group(0) @binding(6) var<storage, read_write> O: array<f32>;\n");
                h.push_str(&narrow_fn(*dtype));
                if *residual {
                    h.push_str("@group(0) @binding(8) var<storage, read> R: array<f32>;\n");
                    h.push_str("fn epilogue(i: u32, s: f32) -> f32 { return narrow(narrow(s) + R[P.off_r + i]); }\n");
                } else {
                    h.push_str("fn epilogue(i: u32, s: f32) -> f32 { return narrow(s); }\n");
                }
                h.push_str(&qmv_accumulate_fn(
                    *bits,
                    *rows,
                    *rpw,
                    *unroll,
                    QmvShape {
                        by_word,
                        int8: *int8,
                        norm: *norm,
                        glu: *glu,
                        pair: *store == ScaleStore::F16Pair,
                    },
                ));
                include_str!("../kernels/qmv.wgsl")
            }
            KernelKey::QMatmul {
                dtype,
                bits,
                transpose,
                store,
                tile128,
            } => {
                if !quant_ok(*dtype, *bits) || (*tile128 && !*transpose) {
                    return None;
                }
                quant_header(&mut h, *bits);
                let _ = writeln!(h, "const TRANSPOSE: bool = {transpose};");
                h.push_str("@group(0) @binding(2) var<storage, read> X: array<f32>;\n");
                h.push_str("@group(0) @binding(3) var<storage, read> W: array<u32>;\n");
                scale_bias_header(&mut h, 4, *store);
                h.push_str("@group(0) @binding(6) var<storage, read_write> O: array<f32>;\n");
                h.push_str(&narrow_fn(*dtype));
                h.push_str(QVAL);
                h.push_str(include_str!("../kernels/qmm_params.wgsl"));
                match tile128 {
                    true => include_str!("../kernels/qmm_128.wgsl"),
                    false => include_str!("../kernels/qmm.wgsl"),
                }
            }
            KernelKey::RandomBits
            | KernelKey::MatmulCoop { .. }
            | KernelKey::QMatmulCoop { .. }
            | KernelKey::SdpaCoop { .. }
            | KernelKey::Unpack16 { .. }
            | KernelKey::QuantizeX => {
                unreachable!("handled above")
            }
        };
        Some(format!(
            "{COMMON}\n// ---- generated header: {self}\n{h}\n{body}"
        ))
    }
}
