//! Conversions between any dtype's host bytes and f64, for printing, tests and reference code.

use crate::buffer::Data;
use crate::dtype::{Bool8, Element};
use crate::Dtype;
use half::{bf16, f16};

fn view_to_f64<T: Element>(bytes: &[u8], data: &Data) -> Vec<f64> {
    crate::array::gather_host::<T>(bytes, data)
        .into_iter()
        .map(|v| v.to_f64())
        .collect()
}

/// The elements of a view as f64 (u64/i64 beyond 2^53 round).
pub fn to_f64_vec(bytes: &[u8], data: &Data) -> Vec<f64> {
    match data.dtype() {
        Dtype::Bool => view_to_f64::<Bool8>(bytes, data),
        Dtype::Uint8 => view_to_f64::<u8>(bytes, data),
        Dtype::Uint16 => view_to_f64::<u16>(bytes, data),
        Dtype::Uint32 => view_to_f64::<u32>(bytes, data),
        Dtype::Uint64 => view_to_f64::<u64>(bytes, data),
        Dtype::Int8 => view_to_f64::<i8>(bytes, data),
        Dtype::Int16 => view_to_f64::<i16>(bytes, data),
        Dtype::Int32 => view_to_f64::<i32>(bytes, data),
        Dtype::Int64 => view_to_f64::<i64>(bytes, data),
        Dtype::Float16 => view_to_f64::<f16>(bytes, data),
        Dtype::Bfloat16 => view_to_f64::<bf16>(bytes, data),
        Dtype::Float32 => view_to_f64::<f32>(bytes, data),
        Dtype::Float64 => view_to_f64::<f64>(bytes, data),
    }
}

fn f64_to<T: Element>(values: &[f64]) -> Vec<u8> {
    let v: Vec<T> = values.iter().map(|&x| T::from_f64(x)).collect();
    bytemuck::cast_slice(&v).to_vec()
}

/// Host bytes of `values` converted to `dtype` (`as` semantics).
pub fn f64_to_bytes(values: &[f64], dtype: Dtype) -> Vec<u8> {
    match dtype {
        Dtype::Bool => f64_to::<Bool8>(values),
        Dtype::Uint8 => f64_to::<u8>(values),
        Dtype::Uint16 => f64_to::<u16>(values),
        Dtype::Uint32 => f64_to::<u32>(values),
        Dtype::Uint64 => f64_to::<u64>(values),
        Dtype::Int8 => f64_to::<i8>(values),
        Dtype::Int16 => f64_to::<i16>(values),
        Dtype::Int32 => f64_to::<i32>(values),
        Dtype::Int64 => f64_to::<i64>(values),
        Dtype::Float16 => f64_to::<f16>(values),
        Dtype::Bfloat16 => f64_to::<bf16>(values),
        Dtype::Float32 => f64_to::<f32>(values),
        Dtype::Float64 => f64_to::<f64>(values),
    }
}
