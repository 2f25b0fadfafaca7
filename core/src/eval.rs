//! Evaluation: an iterative topological walk over the unevaluated part of the graph. View
//! primitives are resolved here (new strides over the same buffer); every other primitive goes to
//! its stream's backend. After a node is evaluated its graph is detached (unless a transform is
//! tracing), so intermediate buffers are freed as soon as their last consumer has run.

use crate::array::Array;
use crate::backend::backend;
use crate::buffer::Data;
use crate::layout::{is_row_contiguous, row_major_strides};
use crate::primitive::Primitive;
use crate::{Error, Result};
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

thread_local! {
    static TRACING: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with graph detachment off, so transforms can walk graphs that `f` evaluated.
pub(crate) fn tracing<R>(f: impl FnOnce() -> R) -> R {
    TRACING.with(|t| t.set(t.get() + 1));
    let out = f();
    TRACING.with(|t| t.set(t.get() - 1));
    out
}

fn is_tracing() -> bool {
    TRACING.with(|t| t.get() > 0)
}

/// Evaluates arrays (a no-op for those already evaluated).
pub fn eval(outputs: &[&Array]) -> Result<()> {
    // Consume the order so each handle is dropped right after its node runs: a node then lives
    // only as long as an unevaluated consumer (or the caller) holds it.
    for node in topo_order(outputs) {
        eval_node(&node)?;
    }
    Ok(())
}

/// Evaluates arrays, submits the device work and starts copying the results to host memory,
/// without waiting (MLX's `async_eval`): the caller can build the next graph while the device
/// runs, and a later read of these arrays waits only for their own work.
pub fn async_eval(outputs: &[&Array]) -> Result<()> {
    eval(outputs)?;
    for a in outputs {
        let data = a.0.data.get().expect("evaluated");
        data.buffer.prefetch_host()?;
    }
    Ok(())
}

/// Evaluates arrays and waits for their data to reach host memory without blocking the thread
/// (the wasm path; natively it is the same as [`eval`] followed by a readback).
pub async fn eval_async(outputs: &[&Array]) -> Result<()> {
    eval(outputs)?;
    for a in outputs {
        let data = a.0.data.get().expect("evaluated");
        data.buffer.host_async().await?;
    }
    Ok(())
}

/// Post-order of the unevaluated nodes reachable from `outputs`, without recursion.
fn topo_order(outputs: &[&Array]) -> Vec<Array> {
    let mut order = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack: Vec<(Array, bool)> = outputs.iter().map(|a| ((*a).clone(), false)).collect();
    while let Some((a, expanded)) = stack.pop() {
        if a.is_evaluated() && !expanded {
            continue;
        }
        if expanded {
            order.push(a);
            continue;
        }
        if !seen.insert(a.id()) {
            continue;
        }
        let inputs = a.inputs();
        stack.push((a, true));
        for i in inputs.into_iter().rev() {
            if !i.is_evaluated() && !seen.contains(&i.id()) {
                stack.push((i, false));
            }
        }
    }
    order
}

fn eval_node(a: &Array) -> Result<()> {
    if a.is_evaluated() {
        return Ok(());
    }
    let (prim, inputs) = {
        let g = a.0.graph.lock().unwrap();
        let prim = g.prim.clone().ok_or_else(|| Error::Backend {
            backend: "core",
            detail: "unevaluated array without a primitive".into(),
        })?;
        (prim, g.inputs.clone())
    };
    let data = match donate(a, &prim, inputs)? {
        Donation::Done(data) => data,
        Donation::Declined(inputs) => eval_fresh(a, &prim, &inputs)?,
    };
    debug_assert_eq!(
        data.shape,
        a.shape(),
        "{} produced the wrong shape",
        prim.name()
    );
    let _ = a.0.data.set(data);
    if !is_tracing() {
        let mut g = a.0.graph.lock().unwrap();
        g.prim = None;
        g.inputs.clear();
    }
    Ok(())
}

/// What came of offering a node's first input buffer to its primitive.
enum Donation {
    /// The backend wrote the output over the donated buffer.
    Done(Data),
    /// No donation (the inputs, unchanged, to evaluate as usual).
    Declined(Vec<Array>),
}

/// Hands `inputs[0]`'s buffer to the backend when `prim` can write over it and nothing else can
/// observe it: this node's graph holds the only handle to that array (checked after taking the
/// inputs out of the graph), its data is the only user of the buffer (no views, no other array),
/// and the view is dense over the whole buffer. The backend that writes one copy of the buffer
/// (host or device) drops the other, which would be stale.
fn donate(a: &Array, prim: &Primitive, mut inputs: Vec<Array>) -> Result<Donation> {
    if is_tracing() || !prim.donates_first_input() || inputs.is_empty() {
        return Ok(Donation::Declined(inputs));
    }
    // the graph's own handles are dropped so the counts below see only outside holders
    a.0.graph.lock().unwrap().inputs.clear();
    let unique = Arc::get_mut(&mut inputs[0].0).and_then(|node| {
        let d = node.data.get()?;
        let whole = d.offset == 0 && d.is_row_contiguous() && d.size() == d.buffer.len();
        let fits = d.shape == a.shape()
            && d.dtype() == a.dtype()
            && node.stream.device == a.stream().device;
        (whole && fits && Arc::strong_count(&d.buffer) == 1 && Arc::weak_count(&d.buffer) == 0)
            .then(|| node.data.take())?
    });
    let Some(first) = unique else {
        a.0.graph.lock().unwrap().inputs.clone_from(&inputs);
        return Ok(Donation::Declined(inputs));
    };
    let mut datas = vec![first];
    datas.extend(
        inputs[1..]
            .iter()
            .map(|i| i.0.data.get().cloned().expect("inputs first")),
    );
    match backend(a.stream().device)?.eval_in_place(prim, datas, a.shape(), a.dtype())? {
        Ok(data) => Ok(Donation::Done(data)),
        Err(mut datas) => {
            // not done in place: the first input gets its data back, unchanged
            let first = datas.swap_remove(0);
            let node = Arc::get_mut(&mut inputs[0].0).expect("still the only handle");
            let _ = node.data.set(first);
            a.0.graph.lock().unwrap().inputs.clone_from(&inputs);
            Ok(Donation::Declined(inputs))
        }
    }
}

/// Evaluates `a` from its evaluated `inputs` into new memory (views share their input's).
fn eval_fresh(a: &Array, prim: &Primitive, inputs: &[Array]) -> Result<Data> {
    let datas: Vec<Data> = inputs
        .iter()
        .map(|i| i.0.data.get().cloned().expect("inputs first"))
        .collect();
    Ok(if prim.is_view() {
        eval_view(a, prim, &datas)?
    } else {
        let be = backend(a.stream().device)?;
        let dtypes: Vec<_> = datas.iter().map(|d| d.dtype()).chain([a.dtype()]).collect();
        if let Some(why) = be.unsupported(&prim, &dtypes) {
            return Err(Error::Device {
                op: prim.name().into(),
                what: why,
                device: a.stream().device.to_string(),
            });
        }
        be.eval(prim, &datas, a.shape(), a.dtype())?
    })
}

/// A dense copy of `d` made by `a`'s backend.
fn copy_contiguous(a: &Array, d: &Data) -> Result<Data> {
    backend(a.stream().device)?.eval(
        &Primitive::Copy,
        std::slice::from_ref(d),
        &d.shape,
        d.dtype(),
    )
}

fn eval_view(a: &Array, prim: &Primitive, inputs: &[Data]) -> Result<Data> {
    let x = &inputs[0];
    let shape = a.shape().to_vec();
    Ok(match prim {
        Primitive::Reshape => {
            let src = if x.is_row_contiguous() {
                x.clone()
            } else {
                copy_contiguous(a, x)?
            };
            Data {
                strides: row_major_strides(&shape),
                buffer: src.buffer,
                offset: src.offset,
                shape,
            }
        }
        Primitive::Transpose(perm) => Data {
            strides: perm.iter().map(|&p| x.strides[p]).collect(),
            buffer: x.buffer.clone(),
            offset: x.offset,
            shape,
        },
        Primitive::Broadcast => {
            let lead = shape.len() - x.shape.len();
            let strides = (0..shape.len())
                .map(|i| {
                    if i < lead || x.shape[i - lead] == 1 && shape[i] != 1 {
                        0
                    } else {
                        x.strides[i - lead]
                    }
                })
                .collect();
            Data {
                strides,
                buffer: x.buffer.clone(),
                offset: x.offset,
                shape,
            }
        }
        Primitive::Slice { start, step } => {
            let mut offset = x.offset;
            for d in 0..shape.len() {
                if shape[d] > 0 {
                    offset += start[d] as isize * x.strides[d];
                }
            }
            let strides = (0..shape.len()).map(|d| x.strides[d] * step[d]).collect();
            Data {
                strides,
                buffer: x.buffer.clone(),
                offset,
                shape,
            }
        }
        Primitive::AsStrided { strides, offset } => {
            let src = if is_row_contiguous(&x.shape, &x.strides) {
                x.clone()
            } else {
                copy_contiguous(a, x)?
            };
            Data {
                strides: strides.clone(),
                buffer: src.buffer,
                offset: src.offset + *offset as isize,
                shape,
            }
        }
        Primitive::StopGradient => x.clone(),
        other => unreachable!("{} is not a view", other.name()),
    })
}
