//! The primitive registry: one closed enum naming every operation a graph node can hold. Each
//! variant's rules sit beside it: its name and tags here, its gradient in `autodiff::vjp_rules`,
//! its kernels in each backend's dispatch file. Adding a variant makes the compiler list every
//! place still missing it.

/// Elementwise functions of one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Negative,
    Abs,
    Sign,
    Square,
    Sqrt,
    Rsqrt,
    Reciprocal,
    Exp,
    Expm1,
    Log,
    Log1p,
    Log2,
    Log10,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Arcsinh,
    Arccosh,
    Arctanh,
    Sigmoid,
    Erf,
    Erfinv,
    Floor,
    Ceil,
    Round,
    LogicalNot,
    BitwiseInvert,
    IsNan,
    IsInf,
}

/// Every unary op, for coverage tables and exhaustive tests.
pub const ALL_UNARY: [UnaryOp; 35] = {
    use UnaryOp::*;
    [
        Negative,
        Abs,
        Sign,
        Square,
        Sqrt,
        Rsqrt,
        Reciprocal,
        Exp,
        Expm1,
        Log,
        Log1p,
        Log2,
        Log10,
        Sin,
        Cos,
        Tan,
        Arcsin,
        Arccos,
        Arctan,
        Sinh,
        Cosh,
        Tanh,
        Arcsinh,
        Arccosh,
        Arctanh,
        Sigmoid,
        Erf,
        Erfinv,
        Floor,
        Ceil,
        Round,
        LogicalNot,
        BitwiseInvert,
        IsNan,
        IsInf,
    ]
};

impl UnaryOp {
    /// MLX's op name.
    pub fn name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Negative => "negative",
            Abs => "abs",
            Sign => "sign",
            Square => "square",
            Sqrt => "sqrt",
            Rsqrt => "rsqrt",
            Reciprocal => "reciprocal",
            Exp => "exp",
            Expm1 => "expm1",
            Log => "log",
            Log1p => "log1p",
            Log2 => "log2",
            Log10 => "log10",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Arcsin => "arcsin",
            Arccos => "arccos",
            Arctan => "arctan",
            Sinh => "sinh",
            Cosh => "cosh",
            Tanh => "tanh",
            Arcsinh => "arcsinh",
            Arccosh => "arccosh",
            Arctanh => "arctanh",
            Sigmoid => "sigmoid",
            Erf => "erf",
            Erfinv => "erfinv",
            Floor => "floor",
            Ceil => "ceil",
            Round => "round",
            LogicalNot => "logical_not",
            BitwiseInvert => "bitwise_invert",
            IsNan => "isnan",
            IsInf => "isinf",
        }
    }
    /// True for ops defined only on floats (inputs of other dtypes are cast to float first).
    pub fn is_float_only(self) -> bool {
        use UnaryOp::*;
        !matches!(
            self,
            Negative
                | Abs
                | Sign
                | Square
                | Floor
                | Ceil
                | Round
                | LogicalNot
                | BitwiseInvert
                | IsNan
                | IsInf
        )
    }
    /// True when the output is bool whatever the input.
    pub fn outputs_bool(self) -> bool {
        matches!(self, UnaryOp::LogicalNot | UnaryOp::IsNan | UnaryOp::IsInf)
    }
}

/// Elementwise functions of two arguments of one (promoted) dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    FloorDivide,
    Remainder,
    Power,
    Maximum,
    Minimum,
    Arctan2,
    LogAddExp,
    /// `silu(a) · b = a · sigmoid(a) · b`, the SwiGLU gate of Llama-family MLPs in one kernel
    /// (an MLX-ARM extension: MLX fuses it through `compile`).
    SiluMul,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    LogicalAnd,
    LogicalOr,
    BitwiseAnd,
    BitwiseOr,
    BitwiseXor,
    LeftShift,
    RightShift,
}

/// Every binary op.
pub const ALL_BINARY: [BinaryOp; 25] = {
    use BinaryOp::*;
    [
        Add,
        Subtract,
        Multiply,
        Divide,
        FloorDivide,
        Remainder,
        Power,
        Maximum,
        Minimum,
        Arctan2,
        LogAddExp,
        SiluMul,
        Equal,
        NotEqual,
        Less,
        LessEqual,
        Greater,
        GreaterEqual,
        LogicalAnd,
        LogicalOr,
        BitwiseAnd,
        BitwiseOr,
        BitwiseXor,
        LeftShift,
        RightShift,
    ]
};

impl BinaryOp {
    /// MLX's op name.
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Subtract => "subtract",
            Multiply => "multiply",
            Divide => "divide",
            FloorDivide => "floor_divide",
            Remainder => "remainder",
            Power => "power",
            Maximum => "maximum",
            Minimum => "minimum",
            Arctan2 => "arctan2",
            LogAddExp => "logaddexp",
            SiluMul => "silu_mul",
            Equal => "equal",
            NotEqual => "not_equal",
            Less => "less",
            LessEqual => "less_equal",
            Greater => "greater",
            GreaterEqual => "greater_equal",
            LogicalAnd => "logical_and",
            LogicalOr => "logical_or",
            BitwiseAnd => "bitwise_and",
            BitwiseOr => "bitwise_or",
            BitwiseXor => "bitwise_xor",
            LeftShift => "left_shift",
            RightShift => "right_shift",
        }
    }
    /// True when the output is bool.
    pub fn outputs_bool(self) -> bool {
        use BinaryOp::*;
        matches!(
            self,
            Equal | NotEqual | Less | LessEqual | Greater | GreaterEqual | LogicalAnd | LogicalOr
        )
    }
    /// True for ops defined only on integers and bool.
    pub fn is_bitwise(self) -> bool {
        use BinaryOp::*;
        matches!(
            self,
            BitwiseAnd | BitwiseOr | BitwiseXor | LeftShift | RightShift
        )
    }
    /// True for ops computed in float (ints are cast first).
    pub fn is_float_only(self) -> bool {
        matches!(
            self,
            BinaryOp::Divide | BinaryOp::Arctan2 | BinaryOp::LogAddExp | BinaryOp::SiluMul
        )
    }
}

/// Reductions over axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Prod,
    Max,
    Min,
    /// Logical and (`all`).
    And,
    /// Logical or (`any`).
    Or,
}

/// Index-of-extremum reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgReduceOp {
    ArgMax,
    ArgMin,
}

/// Cumulative reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanOp {
    Sum,
    Prod,
    Max,
    Min,
}

/// How a scatter combines updates with the existing values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScatterMode {
    /// Overwrite (the last update wins where indices repeat).
    Set,
    /// Accumulate.
    Add,
}

/// Work fused into a `QuantizedMatmul` node (see `ops::quantized_matmul_fused`), applied in
/// field order: `y = rms_norm(x, input 4, eps) @ W`, then `silu(y[.., :n]) * y[.., n:]` for the
/// two halves of the product's last axis, then `+ addend` (the last input).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct QmmFuse {
    /// x is RMS-normalised over its last axis first, with this epsilon (f32 bits) and the
    /// weight in input 4.
    pub rms_norm_eps_bits: Option<u32>,
    /// Rotary embedding of the product's first heads (see [`QmmRope`]), before `silu_mul`.
    pub rope: Option<QmmRope>,
    /// The product's last axis holds `[gate | up]` halves; the output is `silu(gate) * up`.
    pub silu_mul: bool,
    /// The last input (the output's shape and dtype) is added, the sum rounded as `add` would.
    pub residual: bool,
}

/// A rotary embedding fused into a quantized product (`QmmFuse::rope`): the product's last axis
/// is `N / head_dim` heads of `head_dim` values; the first `heads` of them get `fast::rope` with
/// traditional (adjacent) pairs over their first `dims` values, positions `offset + l` along
/// x's second-to-last axis (1 row when x is 1-D), frequencies from `base`, times `scale` (f32
/// bits). Llama's q and k heads in a stacked q/k/v product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QmmRope {
    /// Values per head.
    pub head_dim: usize,
    /// Heads rotated (from the first).
    pub heads: usize,
    /// Values rotated per head (even, at most `head_dim`).
    pub dims: usize,
    /// The frequencies' base, as f32 bits.
    pub base_bits: u32,
    /// The positions' scale, as f32 bits.
    pub scale_bits: u32,
    /// The first position.
    pub offset: usize,
}

impl QmmRope {
    /// Positions per batch of rows for an x of shape `x`: its second-to-last axis (1 for 1-D).
    pub fn positions(x: &[usize]) -> usize {
        if x.len() >= 2 {
            x[x.len() - 2]
        } else {
            1
        }
    }

    /// A rotation of `heads` heads of `head_dim` values over their first `dims`.
    pub fn new(
        head_dim: usize,
        heads: usize,
        dims: usize,
        base: f32,
        scale: f32,
        offset: usize,
    ) -> QmmRope {
        QmmRope {
            head_dim,
            heads,
            dims,
            base_bits: base.to_bits(),
            scale_bits: scale.to_bits(),
            offset,
        }
    }
}

impl QmmFuse {
    /// Index of the RMS norm's weight among the node's inputs.
    pub fn norm_input(&self) -> Option<usize> {
        self.rms_norm_eps_bits.map(|_| 4)
    }

    /// Index of the residual addend among the node's inputs.
    pub fn addend_input(&self) -> Option<usize> {
        self.residual
            .then_some(4 + usize::from(self.rms_norm_eps_bits.is_some()))
    }
}

/// An operation a graph node can hold. Output shape and dtype live on the node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Primitive {
    // ---- views: evaluated without a kernel when the layout allows ----
    /// Same elements, new shape (a view when the input is contiguous, else a copy).
    Reshape,
    /// Permuted axes (a view).
    Transpose(Vec<usize>),
    /// Broadcast to the node's shape (a view with zero strides).
    Broadcast,
    /// Strided slice: `start` (already clamped, non-negative) and non-zero `step` per axis.
    Slice { start: Vec<usize>, step: Vec<isize> },
    /// A view with explicit strides and offset over the contiguous input.
    AsStrided { strides: Vec<isize>, offset: usize },
    /// Identity whose gradient is zero.
    StopGradient,
    // ---- kernels ----
    /// Dense row-major copy of the input.
    Copy,
    /// Conversion to the node's dtype.
    AsType,
    /// Elementwise unary op.
    Unary(UnaryOp),
    /// Elementwise binary op (inputs already share shape and dtype).
    Binary(BinaryOp),
    /// `where(cond, x, y)` (inputs share shape; `x`, `y` share dtype).
    Select,
    /// Reduction over `axes`; the output keeps reduced axes with size 1.
    Reduce { op: ReduceOp, axes: Vec<usize> },
    /// Arg-reduction over `axis`; output uint32 with `axis` kept as size 1.
    ArgReduce { op: ArgReduceOp, axis: usize },
    /// Cumulative reduction along `axis`.
    Scan {
        op: ScanOp,
        axis: usize,
        reverse: bool,
        inclusive: bool,
    },
    /// Batched matrix product `[.., M, K] @ [.., K, N]` with equal batch shapes.
    Matmul,
    /// Fused softmax over the last axis of a float input (accumulates in f32 or wider; the
    /// output has the input's shape and dtype).
    Softmax,
    /// Fused `log(sum(exp(x)))` over the last axis of a float input (the maximum is taken out
    /// first; an infinite maximum is replaced by 0, as MLX's op); the last axis is kept as 1.
    LogSumExp,
    /// Fused RMS normalisation over the last axis of a float input: inputs `(x)` or
    /// `(x, weight)` (weight `[D]`, x's dtype); `x * rsqrt(mean(x²) + eps) * weight` with the
    /// statistics in f32 (f64 for f64) and, for half types, `x * r` rounded to x's dtype before
    /// the weight multiplies it (as MLX's kernel). `eps` is stored as f32 bits.
    RmsNorm { eps_bits: u32 },
    /// Fused rotary position embedding over `x` `[.., L, D]`: inputs `(x)` (frequencies
    /// `base^(-2i/dims)`, computed as `exp(-i · ln(base)/(dims/2))` in f32) or `(x, freqs)`
    /// (`freqs` f32 `[dims/2]`, inverse frequencies `1/freqs[i]`; `base_bits` is then unused).
    /// Row `l` along axis -2 rotates feature pairs `(2i, 2i+1)` (`traditional`) or
    /// `(i, i + dims/2)` by `(offset + l) · scale · inv_freq[i]` (f32); features past `dims`
    /// pass through. `base` and `scale` are stored as f32 bits.
    Rope {
        dims: usize,
        traditional: bool,
        base_bits: u32,
        scale_bits: u32,
        offset: usize,
    },
    /// Fused scaled dot-product attention: inputs `(q, k, v)` `[B, Hq, Lq, D]`, `[B, Hkv, Lk, D]`,
    /// `[B, Hkv, Lk, Dv]` of one float dtype (f32, f16 or bf16), `Hq` a multiple of `Hkv` (query
    /// head `h` reads key/value head `h / (Hq / Hkv)`); output `[B, Hq, Lq, Dv]` in that dtype.
    /// Scores `scale · q·k`, softmax and the weighted sum of values all in f32. With `causal`,
    /// query `i` sees keys `j ≤ i + Lk - Lq` (aligned to the end, as MLX); a row that sees no
    /// key is NaN. `scale` is stored as f32 bits.
    Sdpa { scale_bits: u32, causal: bool },
    /// `take(a, indices, axis)`: output shape `a[:axis] + indices + a[axis+1:]`.
    Take { axis: usize },
    /// `take_along_axis(a, indices, axis)`: indices have a's shape except along `axis`.
    TakeAlongAxis { axis: usize },
    /// `put_along_axis` / scatter-add along an axis: inputs `(a, indices, updates)`.
    ScatterAlongAxis { axis: usize, mode: ScatterMode },
    /// Stable ascending sort along `axis`.
    Sort { axis: usize },
    /// Indices (uint32) of a stable ascending sort along `axis`.
    ArgSort { axis: usize },
    /// Joins inputs along `axis`.
    Concatenate { axis: usize },
    /// Copy of input 0 with a strided region replaced by input 1.
    SliceUpdate { start: Vec<usize>, step: Vec<isize> },
    /// `start + i * step` in the node's dtype; f64 values stored as bits.
    Arange { start_bits: u64, step_bits: u64 },
    /// Threefry-2x32 random bits (uint32) from a key of shape `[2]`.
    RandomBits,
    /// `scale * q + bias` from a packed affine triple `(w, scales, biases)` (see
    /// `ops::quantized`); the output has the scales' dtype.
    Dequantize { group_size: usize, bits: u8 },
    /// `x @ dequantize(w).T` (`transpose`) or `x @ dequantize(w)` on packed weights: inputs
    /// `(x, w, scales, biases)`, `w` 2-D, x/scales/biases of the output dtype (scales and biases
    /// may also both be f16 or bf16 when the output is f32). `fuse` adds work around the
    /// product (`ops::quantized_matmul_fused`): an RMS norm of x before it, silu·mul of its two
    /// halves and a residual add after it, with their inputs after the first four.
    QuantizedMatmul {
        group_size: usize,
        bits: u8,
        transpose: bool,
        fuse: QmmFuse,
    },
}

impl Primitive {
    /// Whether evaluation may hand this primitive its first input's buffer to write into when
    /// nothing else holds it ([`crate::backend::Backend::eval_in_place`]): `slice_update`, so a
    /// preallocated KV cache is updated in place instead of copied every step.
    pub fn donates_first_input(&self) -> bool {
        matches!(self, Primitive::SliceUpdate { .. })
    }

    /// Name for error messages and graph printing.
    pub fn name(&self) -> &'static str {
        use Primitive::*;
        match self {
            Reshape => "reshape",
            Transpose(_) => "transpose",
            Broadcast => "broadcast_to",
            Slice { .. } => "slice",
            AsStrided { .. } => "as_strided",
            StopGradient => "stop_gradient",
            Copy => "contiguous",
            AsType => "astype",
            Unary(op) => op.name(),
            Binary(op) => op.name(),
            Select => "where",
            Reduce { op, .. } => match op {
                ReduceOp::Sum => "sum",
                ReduceOp::Prod => "prod",
                ReduceOp::Max => "max",
                ReduceOp::Min => "min",
                ReduceOp::And => "all",
                ReduceOp::Or => "any",
            },
            ArgReduce {
                op: ArgReduceOp::ArgMax,
                ..
            } => "argmax",
            ArgReduce {
                op: ArgReduceOp::ArgMin,
                ..
            } => "argmin",
            Scan { op, .. } => match op {
                ScanOp::Sum => "cumsum",
                ScanOp::Prod => "cumprod",
                ScanOp::Max => "cummax",
                ScanOp::Min => "cummin",
            },
            Matmul => "matmul",
            Softmax => "softmax",
            LogSumExp => "logsumexp",
            RmsNorm { .. } => "rms_norm",
            Rope { .. } => "rope",
            Sdpa { .. } => "scaled_dot_product_attention",
            Take { .. } => "take",
            TakeAlongAxis { .. } => "take_along_axis",
            ScatterAlongAxis {
                mode: ScatterMode::Set,
                ..
            } => "put_along_axis",
            ScatterAlongAxis {
                mode: ScatterMode::Add,
                ..
            } => "scatter_add_along_axis",
            Sort { .. } => "sort",
            ArgSort { .. } => "argsort",
            Concatenate { .. } => "concatenate",
            SliceUpdate { .. } => "slice_update",
            Arange { .. } => "arange",
            RandomBits => "random_bits",
            Dequantize { .. } => "dequantize",
            QuantizedMatmul { .. } => "quantized_matmul",
        }
    }
    /// True for primitives core evaluates as a view of the input's buffer (no kernel).
    pub fn is_view(&self) -> bool {
        use Primitive::*;
        matches!(
            self,
            Reshape | Transpose(_) | Broadcast | Slice { .. } | AsStrided { .. } | StopGradient
        )
    }
}
