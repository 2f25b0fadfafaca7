//! The device's roofline, measured with two minimal kernels of its own (not the library's): a
//! vec4 copy for memory bandwidth and independent vec4 FMA chains for arithmetic peak. The bench
//! harness divides every figure by these.

use crate::context::Gpu;
use mlx_arm_core::{Error, Result};
use std::time::Instant;

/// What the probe measured.
#[derive(Debug, Clone)]
pub struct Roofline {
    /// One line naming the adapter and driver.
    pub device: String,
    /// Copy bandwidth in GB/s (bytes read + written).
    pub copy_gbps: f64,
    /// Read bandwidth in GB/s: a stream that only reads (each invocation sums 8 coalesced vec4
    /// loads and writes one), the roof of read-only kernels such as mat-vecs and reductions.
    pub read_gbps: f64,
    /// f32 FMA peak in GFLOP/s (2 flops per FMA).
    pub fma_gflops: f64,
}

const COPY: &str = r#"
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let i = g.x + g.y * n.x * 256u;
    if (i < arrayLength(&dst)) { dst[i] = src[i]; }
}
"#;

const READ: &str = r#"
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) w: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
    let wg = w.x + w.y * n.x;
    let base = wg * 2048u + l;
    if (base + 1792u >= arrayLength(&src)) { return; }
    var s = vec4<f32>(0.0);
    for (var j = 0u; j < 8u; j = j + 1u) { s = s + src[base + j * 256u]; }
    dst[wg * 256u + l] = s;
}
"#;

const FMA: &str = r#"
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
    var a = vec4<f32>(f32(g.x) * 1e-9);
    var b = a + 0.1;
    var c = a + 0.2;
    var d = a + 0.3;
    let m = vec4<f32>(0.9999);
    let k = vec4<f32>(0.0001);
    for (var i = 0u; i < 1024u; i = i + 1u) {
        a = fma(a, m, k);
        b = fma(b, m, k);
        c = fma(c, m, k);
        d = fma(d, m, k);
    }
    out[g.x] = a + b + c + d;
}
"#;
/// FMAs per invocation of the FMA kernel (4 chains x 1024 steps x 4 lanes).
const FMAS_PER_INVOCATION: f64 = 4.0 * 1024.0 * 4.0;

fn pipeline(gpu: &Gpu, src: &str) -> wgpu::ComputePipeline {
    let desc = wgpu::ShaderModuleDescriptor {
        label: Some("probe"),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    };
    // SAFETY: both kernels index only below arrayLength / their own invocation id.
    let module = unsafe {
        gpu.device
            .create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
    };
    gpu.device
        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("probe"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        })
}

/// A bind group of `buffers` at bindings 0, 1, ... of `pipe`.
fn bind(gpu: &Gpu, pipe: &wgpu::ComputePipeline, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipe.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// Median seconds per repetition of `reps` dispatches recorded in one pass and submitted together.
fn time(
    gpu: &Gpu,
    pipe: &wgpu::ComputePipeline,
    bg: &wgpu::BindGroup,
    groups: [u32; 2],
    reps: usize,
) -> Result<f64> {
    let mut runs = vec![];
    for _ in 0..7 {
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipe);
            pass.set_bind_group(0, bg, &[]);
            for _ in 0..reps {
                pass.dispatch_workgroups(groups[0], groups[1], 1);
            }
        }
        let t = Instant::now();
        gpu.queue.submit([enc.finish()]);
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Backend {
                backend: "wgpu",
                detail: format!("probe: {e}"),
            })?;
        runs.push(t.elapsed().as_secs_f64() / reps as f64);
    }
    gpu.take_error()?;
    runs.sort_by(f64::total_cmp);
    Ok(runs[runs.len() / 2])
}

/// Measures copy bandwidth over `bytes`-sized buffers and the FMA peak on `gpu`.
pub fn measure(gpu: &Gpu, bytes: u64) -> Result<Roofline> {
    let usage = wgpu::BufferUsages::STORAGE;
    let buf = |size| {
        gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("probe"),
            size,
            usage,
            mapped_at_creation: false,
        })
    };
    let bytes = bytes
        .min(gpu.limits.max_storage_buffer_binding_size)
        .min(gpu.limits.max_buffer_size)
        / 16
        * 16;
    let (src, dst) = (buf(bytes), buf(bytes));
    let copy = pipeline(gpu, COPY);
    let bg = bind(gpu, &copy, &[&src, &dst]);
    let groups = (bytes / 16).div_ceil(256) as u32;
    let max = gpu.limits.max_compute_workgroups_per_dimension;
    let (gx, gy) = (groups.min(max), groups.div_ceil(max));
    // the kernel computes i = g.x + g.y * (gx * 256): full rows of gx groups
    let copy_s = time(gpu, &copy, &bg, [gx, gy], 10)?;
    let read = pipeline(gpu, READ);
    let bg = bind(gpu, &read, &[&src, &dst]);
    // 8 vec4 per invocation: whole workgroups cover bytes / (16 * 2048) x 2048 vec4
    let read_groups = (bytes / 16 / 2048) as u32;
    let read_s = time(
        gpu,
        &read,
        &bg,
        [read_groups.min(max), read_groups.div_ceil(max)],
        10,
    )?;
    let read_bytes = read_groups as f64 * 2048.0 * 16.0 * (1.0 + 1.0 / 8.0);
    let fma = pipeline(gpu, FMA);
    let invocations: u64 = 256 * 4096;
    let out = buf(invocations * 16);
    let bg = bind(gpu, &fma, &[&out]);
    let fma_s = time(gpu, &fma, &bg, [4096, 1], 4)?;
    Ok(Roofline {
        device: gpu.describe(),
        copy_gbps: 2.0 * bytes as f64 / copy_s / 1e9,
        read_gbps: read_bytes / read_s / 1e9,
        fma_gflops: 2.0 * FMAS_PER_INVOCATION * invocations as f64 / fma_s / 1e9,
    })
}

/// Opens the default adapter and measures it (blocking; native targets).
#[cfg(not(target_arch = "wasm32"))]
pub fn measure_default(bytes: u64) -> Result<Roofline> {
    let gpu = pollster::block_on(Gpu::open())?;
    measure(&gpu, bytes)
}
