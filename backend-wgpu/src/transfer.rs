//! Host <-> GPU layout conversion. Every dtype lives on the GPU as a 32-bit scalar (see the
//! `mlx-arm-wgsl` crate docs): bool/u8/u16 widen to u32, i8/i16 to i32, f16/bf16 to f32. Values
//! written by kernels are already narrowed, so narrowing back here is exact.

use half::{bf16, f16};
use mlx_arm_core::dtype::Element;
use mlx_arm_core::{Dtype, Error, Result};

fn widen<S: Element, W: bytemuck::Pod>(bytes: &[u8], f: impl Fn(S) -> W) -> Vec<u8> {
    let src: Vec<S> = bytemuck::pod_collect_to_vec(bytes);
    let v: Vec<W> = src.iter().map(|&x| f(x)).collect();
    bytemuck::cast_slice(&v).to_vec()
}

fn narrow<W: bytemuck::Pod, S: Element>(words: &[u8], n: usize, f: impl Fn(W) -> S) -> Vec<u8> {
    // readback bytes carry no alignment guarantee
    let src: Vec<W> = bytemuck::pod_collect_to_vec(&words[..n * 4]);
    let v: Vec<S> = src.iter().map(|&x| f(x)).collect();
    bytemuck::cast_slice(&v).to_vec()
}

/// Why the GPU cannot hold `dt`.
pub fn unstorable(dt: Dtype) -> String {
    format!("dtype {dt} (WGSL has no 64-bit storage; use the CPU device or a 32-bit dtype)")
}

/// The error for dtypes the GPU does not store.
pub fn unsupported(op: &str, dt: Dtype) -> Error {
    Error::Device {
        op: op.to_string(),
        what: unstorable(dt),
        device: "Device(gpu, 0)".into(),
    }
}

/// Host bytes of `n` elements of `dt` in GPU layout (4 bytes each).
pub fn to_gpu_layout(dt: Dtype, bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(match dt {
        Dtype::Float32 | Dtype::Int32 | Dtype::Uint32 => bytes.to_vec(),
        Dtype::Bool => widen::<u8, u32>(bytes, |x| (x != 0) as u32),
        Dtype::Uint8 => widen::<u8, u32>(bytes, |x| x as u32),
        Dtype::Uint16 => widen::<u16, u32>(bytes, |x| x as u32),
        Dtype::Int8 => widen::<i8, i32>(bytes, |x| x as i32),
        Dtype::Int16 => widen::<i16, i32>(bytes, |x| x as i32),
        Dtype::Float16 => widen::<f16, f32>(bytes, |x| x.to_f32()),
        Dtype::Bfloat16 => widen::<bf16, f32>(bytes, |x| x.to_f32()),
        Dtype::Uint64 | Dtype::Int64 | Dtype::Float64 => return Err(unsupported("upload", dt)),
    })
}

/// Host layout of `n` elements of `dt` read back in GPU layout.
pub fn from_gpu_layout(dt: Dtype, words: &[u8], n: usize) -> Vec<u8> {
    match dt {
        Dtype::Float32 | Dtype::Int32 | Dtype::Uint32 => words[..n * 4].to_vec(),
        Dtype::Bool => narrow::<u32, u8>(words, n, |x| (x != 0) as u8),
        Dtype::Uint8 => narrow::<u32, u8>(words, n, |x| x as u8),
        Dtype::Uint16 => narrow::<u32, u16>(words, n, |x| x as u16),
        Dtype::Int8 => narrow::<i32, i8>(words, n, |x| x as i8),
        Dtype::Int16 => narrow::<i32, i16>(words, n, |x| x as i16),
        Dtype::Float16 => narrow::<f32, f16>(words, n, f16::from_f32),
        Dtype::Bfloat16 => narrow::<f32, bf16>(words, n, bf16::from_f32),
        Dtype::Uint64 | Dtype::Int64 | Dtype::Float64 => unreachable!("never stored on the GPU"),
    }
}

/// A conversion involving a 64-bit dtype, which the GPU cannot hold, done on the host: the
/// result is host-resident and moves to the GPU when a kernel needs it (through f64, so int64
/// values beyond 2^53 lose their low bits).
pub fn host_cast(
    x: &mlx_arm_core::buffer::Data,
    shape: &[usize],
    to: Dtype,
) -> Result<mlx_arm_core::buffer::Data> {
    use mlx_arm_core::buffer::{Buffer, Data, HostMem};
    let host = x.buffer.host()?;
    let vals = mlx_arm_core::dtype_dispatch::to_f64_vec(host.bytes(), x);
    let bytes = mlx_arm_core::dtype_dispatch::f64_to_bytes(&vals, to);
    let n = vals.len();
    Ok(Data::contiguous(
        Buffer::from_host(to, n, HostMem::from_bytes(&bytes)?),
        shape.to_vec(),
    ))
}
