//! `Array`: a cheap-to-clone handle to a node of the lazy graph. A node holds its shape, dtype
//! and stream, and either the primitive + inputs that will produce it or its evaluated data.

use crate::buffer::{Buffer, Data, HostMem};
use crate::dtype::{Bool8, Element};
use crate::layout::{numel, StridedIter};
use crate::primitive::Primitive;
use crate::{Dtype, Error, Result, Stream};
use std::sync::{Arc, Mutex, OnceLock};

/// An n-dimensional array: a lazy graph node, evaluated on demand.
#[derive(Clone)]
pub struct Array(pub(crate) Arc<Node>);

pub(crate) struct Node {
    pub(crate) shape: Vec<usize>,
    pub(crate) dtype: Dtype,
    pub(crate) stream: Stream,
    /// Weakly typed scalar (a Rust literal): promotion defers to the other operand, as MLX does
    /// with Python scalars.
    pub(crate) weak: bool,
    pub(crate) data: OnceLock<Data>,
    pub(crate) graph: Mutex<Graph>,
}

#[derive(Default)]
pub(crate) struct Graph {
    pub(crate) prim: Option<Primitive>,
    pub(crate) inputs: Vec<Array>,
}

impl Drop for Node {
    // Long chains of nodes would overflow the stack if dropped recursively.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.graph.get_mut().unwrap().inputs);
        while let Some(a) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(a.0) {
                stack.append(&mut node.graph.get_mut().unwrap().inputs);
            }
        }
    }
}

impl Array {
    /// A new unevaluated node.
    pub(crate) fn from_op(
        shape: Vec<usize>,
        dtype: Dtype,
        stream: Stream,
        prim: Primitive,
        inputs: Vec<Array>,
    ) -> Array {
        Array(Arc::new(Node {
            shape,
            dtype,
            stream,
            weak: false,
            data: OnceLock::new(),
            graph: Mutex::new(Graph {
                prim: Some(prim),
                inputs,
            }),
        }))
    }

    /// A new evaluated node.
    pub(crate) fn from_data(data: Data, stream: Stream) -> Array {
        let shape = data.shape.clone();
        let dtype = data.dtype();
        let cell = OnceLock::new();
        let _ = cell.set(data);
        Array(Arc::new(Node {
            shape,
            dtype,
            stream,
            weak: false,
            data: cell,
            graph: Mutex::default(),
        }))
    }

    /// An array holding a copy of `data` with `shape` (MLX-ARM's fallible constructor).
    pub fn try_from_slice<T: Element>(data: &[T], shape: &[i32]) -> Result<Array> {
        let shape = to_shape("from_slice", shape)?;
        if numel(&shape) != data.len() {
            return Err(Error::shape(
                "from_slice",
                format!("{} elements cannot have shape {:?}", data.len(), shape),
            ));
        }
        let mem = HostMem::from_bytes(bytemuck::cast_slice(data))?;
        let buffer = Buffer::from_host(T::DTYPE, data.len(), mem);
        Ok(Array::from_data(
            Data::contiguous(buffer, shape),
            Stream::default_stream(),
        ))
    }

    /// An array holding a copy of `data` with `shape`, as in mlx-rs.
    ///
    /// # Panics
    /// When `data.len()` is not the product of `shape` (use [`Array::try_from_slice`] to get an
    /// error instead).
    pub fn from_slice<T: Element>(data: &[T], shape: &[i32]) -> Array {
        Array::try_from_slice(data, shape).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A bool array from Rust bools.
    pub fn from_bools(data: &[bool], shape: &[i32]) -> Result<Array> {
        let v: Vec<Bool8> = data.iter().map(|&b| Bool8::from(b)).collect();
        Array::try_from_slice(&v, shape)
    }

    /// A 0-d array of `value` with its exact dtype (not weakly typed).
    pub fn from_scalar<T: Element>(value: T) -> Array {
        Array::try_from_slice(&[value], &[]).expect("a scalar always fits")
    }

    /// An array from raw bytes in the host layout of `dtype`.
    pub fn from_bytes(bytes: &[u8], shape: &[usize], dtype: Dtype) -> Result<Array> {
        let n = numel(shape);
        if n.checked_mul(dtype.size()) != Some(bytes.len()) {
            return Err(Error::shape(
                "from_bytes",
                format!(
                    "{} bytes do not hold {:?} elements of {}",
                    bytes.len(),
                    shape,
                    dtype
                ),
            ));
        }
        let buffer = Buffer::from_host(dtype, n, HostMem::from_bytes(bytes)?);
        Ok(Array::from_data(
            Data::contiguous(buffer, shape.to_vec()),
            Stream::default_stream(),
        ))
    }

    /// Wraps host memory (e.g. a memory-mapped file window) without copying.
    pub fn from_host_mem(mem: HostMem, shape: &[usize], dtype: Dtype) -> Result<Array> {
        let n = numel(shape);
        if n.checked_mul(dtype.size()) != Some(mem.len()) {
            return Err(Error::shape(
                "from_host_mem",
                "byte length does not match shape",
            ));
        }
        let buffer = Buffer::from_host(dtype, n, mem);
        Ok(Array::from_data(
            Data::contiguous(buffer, shape.to_vec()),
            Stream::default_stream(),
        ))
    }

    pub(crate) fn weak_scalar<T: Element>(value: T) -> Array {
        let mem = HostMem::from_bytes(bytemuck::bytes_of(&value)).expect("8 bytes always fit");
        let data = Data::contiguous(Buffer::from_host(T::DTYPE, 1, mem), vec![]);
        let cell = OnceLock::new();
        let _ = cell.set(data);
        let stream = Stream::default_stream();
        Array(Arc::new(Node {
            shape: vec![],
            dtype: T::DTYPE,
            stream,
            weak: true,
            data: cell,
            graph: Mutex::default(),
        }))
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    /// The size of dimension `axis` (negative counts from the end).
    pub fn dim(&self, axis: isize) -> Result<usize> {
        let ax = crate::layout::normalize_axis("dim", axis, self.ndim())?;
        Ok(self.0.shape[ax])
    }
    /// The dtype.
    pub fn dtype(&self) -> Dtype {
        self.0.dtype
    }
    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.0.shape.len()
    }
    /// Number of elements.
    pub fn size(&self) -> usize {
        numel(&self.0.shape)
    }
    /// Bytes the elements take (`size * dtype.size()`).
    pub fn nbytes(&self) -> usize {
        self.size() * self.dtype().size()
    }
    /// The stream this array is computed on.
    pub fn stream(&self) -> Stream {
        self.0.stream
    }
    /// True when weakly typed (made from a Rust scalar literal).
    pub fn is_weak(&self) -> bool {
        self.0.weak
    }
    /// True once evaluated.
    pub fn is_evaluated(&self) -> bool {
        self.0.data.get().is_some()
    }
    /// A stable identity for this node (used by transforms).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
    /// The primitive that produces this array, while the graph is still attached.
    pub fn primitive(&self) -> Option<Primitive> {
        self.0.graph.lock().unwrap().prim.clone()
    }
    /// The inputs of this array's primitive, while the graph is still attached.
    pub fn inputs(&self) -> Vec<Array> {
        self.0.graph.lock().unwrap().inputs.clone()
    }

    /// Evaluates this array (a no-op when already evaluated).
    pub fn eval(&self) -> Result<()> {
        crate::eval::eval(&[self])
    }

    /// The same values held only in `device`'s own memory (evaluating first), for long-lived
    /// arrays such as weights. A GPU otherwise uploads a host array on first use and keeps both
    /// copies (MLX on Apple silicon has one copy in unified memory); moving the weights and
    /// dropping the originals frees the host copies. On the CPU it returns a clone of `self`.
    /// Ops on the result run on `device`'s default stream unless given another.
    pub fn to_device(&self, device: crate::Device) -> Result<Array> {
        let data = self.data()?;
        match crate::backend::backend(device)?.to_own_memory(data)? {
            Some(moved) => Ok(Array::from_data(moved, crate::Stream::new(device))),
            None => Ok(self.clone()),
        }
    }

    /// The evaluated data (evaluating first).
    pub fn data(&self) -> Result<&Data> {
        self.eval()?;
        Ok(self.0.data.get().expect("evaluated"))
    }

    fn check_dtype<T: Element>(&self, op: &'static str) -> Result<()> {
        if T::DTYPE != self.dtype() {
            return Err(Error::dtype(
                op,
                self.dtype(),
                format!(
                    "requested elements of type {} but the array holds {}",
                    T::DTYPE,
                    self.dtype()
                ),
            ));
        }
        Ok(())
    }

    /// The single element of a size-1 array, evaluating first.
    pub fn item<T: Element>(&self) -> Result<T> {
        if self.size() != 1 {
            return Err(Error::shape(
                "item",
                format!(
                    "array of shape {:?} has not exactly one element",
                    self.shape()
                ),
            ));
        }
        Ok(self.to_vec::<T>()?[0])
    }

    /// All elements in row-major order, evaluating first (any layout).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.check_dtype::<T>("to_vec")?;
        let data = self.data()?;
        let host = data.buffer.host()?;
        Ok(gather_host::<T>(host.bytes(), data))
    }

    /// All elements without blocking the thread (for wasm, where readback is asynchronous).
    pub async fn to_vec_async<T: Element>(&self) -> Result<Vec<T>> {
        self.check_dtype::<T>("to_vec_async")?;
        crate::eval::eval_async(&[self]).await?;
        let data = self.0.data.get().expect("evaluated");
        let host = data.buffer.host_async().await?;
        Ok(gather_host::<T>(host.bytes(), data))
    }

    /// Borrows the elements of a row-contiguous array (evaluating first).
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        self.check_dtype::<T>("as_slice")?;
        let data = self.data()?;
        if !data.is_row_contiguous() {
            return Err(Error::arg(
                "as_slice",
                "the array is a non-contiguous view: use to_vec or contiguous first",
            ));
        }
        let host = data.buffer.host()?;
        let bytes: &[u8] = host.bytes();
        let start = data.offset as usize * T::DTYPE.size();
        let len = data.size() * T::DTYPE.size();
        // SAFETY: the host copy of a buffer is set once and never replaced, and the buffer lives
        // as long as this node's data, which lives as long as `self`.
        let bytes: &[u8] = unsafe { std::slice::from_raw_parts(bytes.as_ptr(), bytes.len()) };
        Ok(bytemuck::cast_slice(&bytes[start..start + len]))
    }

    /// Elements converted to f64 in row-major order (any dtype), for tests and printing.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        let data = self.data()?;
        let host = data.buffer.host()?;
        Ok(crate::dtype_dispatch::to_f64_vec(host.bytes(), data))
    }
}

/// Reads the elements of a view out of its buffer's host bytes.
pub(crate) fn gather_host<T: Element>(bytes: &[u8], data: &Data) -> Vec<T> {
    let all: &[T] = bytemuck::cast_slice(&bytes[..data.buffer.len() * std::mem::size_of::<T>()]);
    if data.is_row_contiguous() {
        let s = data.offset as usize;
        return all[s..s + data.size()].to_vec();
    }
    StridedIter::new(&data.shape, &data.strides, data.offset)
        .map(|o| all[o as usize])
        .collect()
}

/// Converts an mlx-rs style `&[i32]` shape, rejecting negative sizes.
pub(crate) fn to_shape(op: &'static str, shape: &[i32]) -> Result<Vec<usize>> {
    shape
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| Error::shape(op, format!("negative dimension in {shape:?}")))
        })
        .collect()
}

macro_rules! weak_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Array {
            /// A weakly typed scalar: in binary ops it takes the other operand's dtype where
            /// that can hold it (MLX's Python-scalar rule).
            fn from(v: $t) -> Array { Array::weak_scalar(v) }
        }
    )*};
}
weak_from!(f32, i32);

impl From<bool> for Array {
    fn from(v: bool) -> Array {
        Array::weak_scalar(Bool8::from(v))
    }
}
impl From<f64> for Array {
    /// A weakly typed float32 scalar (f64 literals default to float32, as in MLX).
    fn from(v: f64) -> Array {
        Array::weak_scalar(v as f32)
    }
}
impl From<&Array> for Array {
    fn from(a: &Array) -> Array {
        a.clone()
    }
}

impl AsRef<Array> for Array {
    fn as_ref(&self) -> &Array {
        self
    }
}
