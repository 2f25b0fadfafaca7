//! Buffer donation (`Backend::eval_in_place`): `slice_update` writes into its source's buffer
//! when nothing else can observe that buffer — and never when something can. One test function
//! (memory figures are process-wide, so nothing else may run beside it).

mod common;
use common::*;
use mlx_arm::{memory, ops, Array, Device, Dtype};

/// A dense `[rows, cols]` f32 array of `i * 0.5`, evaluated on `device`.
fn source(rows: i32, cols: i32, device: Device) -> Array {
    let a = ops::reshape(
        ops::arange_device(0.0, (rows * cols) as f64 * 0.5, 0.5, Dtype::Float32, device).unwrap(),
        &[rows, cols],
    )
    .unwrap();
    a.eval().unwrap();
    a
}

/// `source` with row `r` replaced by `v`, as the reference.
fn expected(rows: usize, cols: usize, updates: &[(usize, f32)]) -> Vec<f64> {
    let mut v: Vec<f64> = (0..rows * cols).map(|i| i as f64 * 0.5).collect();
    for &(r, x) in updates {
        v[r * cols..(r + 1) * cols].fill(x as f64);
    }
    v
}

fn update_row(src: &Array, r: i32, value: f32, device: Device) -> Array {
    let cols = src.shape()[1] as i32;
    let row = ops::full_device(&[1, cols], value as f64, Dtype::Float32, device).unwrap();
    ops::slice_update_device(src, &row, &[r, 0], &[r + 1, cols], &[1, 1], device).unwrap()
}

#[test]
fn slice_update_donates_only_unobserved_buffers() {
    let (rows, cols) = (256usize, 1024usize); // 1 MiB
    let size = rows * cols * 4;
    for device in devices() {
        mlx_arm::with_default_device(device, || {
            // the source held by nobody else: written in place, so no second 1 MiB at the peak
            let src = source(rows as i32, cols as i32, device);
            let y = update_row(&src, 3, -1.0, device);
            drop(src);
            memory::reset_peak_memory();
            let base = memory::get_active_memory();
            y.eval().unwrap();
            let grew = memory::get_peak_memory() - base;
            assert!(
                grew < size / 2,
                "{device}: in-place slice_update allocated {grew} bytes"
            );
            check(
                &format!("donated slice_update on {device}"),
                &y,
                &expected(rows, cols, &[(3, -1.0)]),
                &[rows, cols],
                Dtype::Float32,
                (0.0, 0.0),
            );

            // the source still held by the caller: copied, and the source unchanged
            let src = source(rows as i32, cols as i32, device);
            let y = update_row(&src, 5, 7.0, device);
            memory::reset_peak_memory();
            let base = memory::get_active_memory();
            y.eval().unwrap();
            assert!(
                memory::get_peak_memory() - base >= size,
                "{device}: a held source must be copied"
            );
            check(
                &format!("held source on {device}"),
                &src,
                &expected(rows, cols, &[]),
                &[rows, cols],
                Dtype::Float32,
                (0.0, 0.0),
            );
            check(
                &format!("update of a held source on {device}"),
                &y,
                &expected(rows, cols, &[(5, 7.0)]),
                &[rows, cols],
                Dtype::Float32,
                (0.0, 0.0),
            );

            // a view of the source alive (same buffer): not donated, the view unchanged
            let src = source(rows as i32, cols as i32, device);
            let view = ops::slice(&src, &[0, 0], &[8, cols as i32], &[1, 1]).unwrap();
            view.eval().unwrap();
            let y = update_row(&src, 2, 9.0, device);
            drop(src);
            y.eval().unwrap();
            let want_view: Vec<f64> = expected(rows, cols, &[])[..8 * cols].to_vec();
            check(
                &format!("view of a donated-looking source on {device}"),
                &view,
                &want_view,
                &[8, cols],
                Dtype::Float32,
                (0.0, 0.0),
            );
            check(
                &format!("update beside a view on {device}"),
                &y,
                &expected(rows, cols, &[(2, 9.0)]),
                &[rows, cols],
                Dtype::Float32,
                (0.0, 0.0),
            );

            // a source already read back to the host (two copies): the write must not leave a
            // stale copy behind for the next read
            let src = source(rows as i32, cols as i32, device);
            assert_eq!(src.to_vec::<f32>().unwrap()[1], 0.5);
            let y = update_row(&src, 0, 4.0, device);
            drop(src);
            check(
                &format!("donated source with a host copy on {device}"),
                &y,
                &expected(rows, cols, &[(0, 4.0)]),
                &[rows, cols],
                Dtype::Float32,
                (0.0, 0.0),
            );

            // a KV-cache-like loop: one buffer updated row by row, evaluated each step
            let mut cache = source(rows as i32, cols as i32, device);
            memory::reset_peak_memory();
            let base = memory::get_active_memory();
            let mut updates = vec![];
            for t in 0..16 {
                cache = update_row(&cache, t, t as f32 + 100.0, device);
                cache.eval().unwrap();
                updates.push((t as usize, t as f32 + 100.0));
            }
            let grew = memory::get_peak_memory() - base;
            assert!(
                grew < size / 2,
                "{device}: 16 in-place steps allocated {grew} bytes"
            );
            check(
                &format!("cache loop on {device}"),
                &cache,
                &expected(rows, cols, &updates),
                &[rows, cols],
                Dtype::Float32,
                (0.0, 0.0),
            );
        });
    }
}
