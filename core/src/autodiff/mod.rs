//! Function transforms: `vjp`, `grad`, `value_and_grad`. A transform calls the function on fresh
//! tracer nodes with graph detachment off, then walks the recorded graph backwards applying each
//! primitive's rule from [`vjp_rules`]. (jvp, vmap and compile come later; the registry leaves
//! room for their rules beside vjp.)

pub(crate) mod vjp_rules;

use crate::primitive::Primitive;
use crate::{Array, Error, Result};
use std::collections::{HashMap, HashSet};

/// A fresh node standing for a primal, so gradients can be attached to it.
fn tracer(a: &Array) -> Array {
    Array::from_op(
        a.shape().to_vec(),
        a.dtype(),
        a.stream(),
        Primitive::StopGradient,
        vec![a.clone()],
    )
}

/// Nodes reachable from `outputs` in post-order (inputs before users), without recursion, that
/// depend on a tracer.
fn backward_order(outputs: &[Array], tracers: &HashSet<usize>) -> Vec<Array> {
    let mut order = Vec::new();
    let mut state: HashMap<usize, bool> = HashMap::new(); // id -> depends on a tracer
    let mut stack: Vec<(Array, bool)> = outputs.iter().map(|a| (a.clone(), false)).collect();
    while let Some((a, expanded)) = stack.pop() {
        let id = a.id();
        if expanded {
            let dep = tracers.contains(&id)
                || a.inputs()
                    .iter()
                    .any(|i| state.get(&i.id()).copied().unwrap_or(false));
            state.insert(id, dep);
            if dep {
                order.push(a);
            }
            continue;
        }
        if state.contains_key(&id) {
            continue;
        }
        if tracers.contains(&id) {
            state.insert(id, true);
            order.push(a);
            continue;
        }
        let inputs = a.inputs();
        stack.push((a, true));
        for i in inputs {
            if !state.contains_key(&i.id()) {
                stack.push((i, false));
            }
        }
    }
    order
}

/// Vector-Jacobian product: returns `f(primals)` and the cotangents of `primals` for output
/// cotangents `cotangents` (one per output, same shapes).
pub fn vjp<F>(f: F, primals: &[Array], cotangents: &[Array]) -> Result<(Vec<Array>, Vec<Array>)>
where
    F: FnOnce(&[Array]) -> Result<Vec<Array>>,
{
    vjp_impl(f, primals, |_| Ok(cotangents.to_vec()))
}

/// [`vjp`] with the cotangents made from the outputs (for `grad`, which seeds with ones).
fn vjp_impl<F, C>(f: F, primals: &[Array], make_cotangents: C) -> Result<(Vec<Array>, Vec<Array>)>
where
    F: FnOnce(&[Array]) -> Result<Vec<Array>>,
    C: FnOnce(&[Array]) -> Result<Vec<Array>>,
{
    let tracers: Vec<Array> = primals.iter().map(tracer).collect();
    let ids: HashSet<usize> = tracers.iter().map(|t| t.id()).collect();
    let outputs = crate::eval::tracing(|| f(&tracers))?;
    let cotangents = &make_cotangents(&outputs)?;
    if outputs.len() != cotangents.len() {
        return Err(Error::arg(
            "vjp",
            format!(
                "{} outputs but {} cotangents",
                outputs.len(),
                cotangents.len()
            ),
        ));
    }
    let grads = crate::eval::tracing(|| -> Result<HashMap<usize, Array>> {
        let mut grads: HashMap<usize, Array> = HashMap::new();
        for (o, c) in outputs.iter().zip(cotangents) {
            if o.shape() != c.shape() {
                return Err(Error::shape(
                    "vjp",
                    format!(
                        "cotangent shape {:?} differs from output shape {:?}",
                        c.shape(),
                        o.shape()
                    ),
                ));
            }
            accumulate(&mut grads, o.id(), c.clone())?;
        }
        let order = backward_order(&outputs, &ids);
        for node in order.iter().rev() {
            if ids.contains(&node.id()) {
                continue;
            }
            let Some(g) = grads.remove(&node.id()) else {
                continue;
            };
            let Some(prim) = node.primitive() else {
                continue;
            };
            let inputs = node.inputs();
            let g = if g.dtype() != node.dtype() && node.dtype().is_float() {
                g.astype(node.dtype())?
            } else {
                g
            };
            let input_grads = vjp_rules::vjp(&prim, &inputs, node, &g)?;
            for (inp, ig) in inputs.iter().zip(input_grads) {
                if let Some(ig) = ig {
                    accumulate(&mut grads, inp.id(), ig)?;
                }
            }
        }
        Ok(grads)
    })?;
    let mut out = Vec::with_capacity(tracers.len());
    for (t, p) in tracers.iter().zip(primals) {
        out.push(match grads.get(&t.id()) {
            Some(g) => g.clone(),
            None => crate::ops::zeros_like(p)?,
        });
    }
    Ok((outputs, out))
}

fn accumulate(grads: &mut HashMap<usize, Array>, id: usize, g: Array) -> Result<()> {
    let v = match grads.remove(&id) {
        Some(prev) => crate::ops::add(&prev, &g)?,
        None => g,
    };
    grads.insert(id, v);
    Ok(())
}

/// Returns a function computing `(f(args), d f / d args[argnums])` for a scalar-valued `f`.
pub fn value_and_grad<F>(
    f: F,
    argnums: &[usize],
) -> impl Fn(&[Array]) -> Result<(Array, Vec<Array>)>
where
    F: Fn(&[Array]) -> Result<Array>,
{
    let argnums = argnums.to_vec();
    move |args: &[Array]| {
        for &i in &argnums {
            if i >= args.len() {
                return Err(Error::arg(
                    "value_and_grad",
                    format!("argnum {i} but only {} arguments", args.len()),
                ));
            }
        }
        let diff: Vec<Array> = argnums.iter().map(|&i| args[i].clone()).collect();
        let (outs, grads) = vjp_impl(
            |xs| {
                let mut full = args.to_vec();
                for (k, &i) in argnums.iter().enumerate() {
                    full[i] = xs[k].clone();
                }
                let y = f(&full)?;
                if y.size() != 1 {
                    return Err(Error::shape(
                        "grad",
                        format!(
                            "the function must return a scalar, got shape {:?}",
                            y.shape()
                        ),
                    ));
                }
                Ok(vec![y])
            },
            &diff,
            |outs| Ok(vec![crate::ops::ones_like(&outs[0])?]),
        )?;
        Ok((outs.into_iter().next().expect("one output"), grads))
    }
}

/// Returns a function computing `d f / d args[argnums]` for a scalar-valued `f`.
pub fn grad<F>(f: F, argnums: &[usize]) -> impl Fn(&[Array]) -> Result<Vec<Array>>
where
    F: Fn(&[Array]) -> Result<Array>,
{
    let vg = value_and_grad(f, argnums);
    move |args: &[Array]| Ok(vg(args)?.1)
}
