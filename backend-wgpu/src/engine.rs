//! The GPU runtime: buffer pool by size class, pipeline cache keyed by [`KernelKey`], and the
//! batched encoder — dispatches are recorded and encoded into one compute pass per flush, which
//! happens on readback or when the batch reaches its budget. Each dispatch's params and dims
//! are appended to the batch's bytes and bound at an offset of two long-lived arena buffers,
//! written with one `write_buffer` each just before the batch is submitted (queue writes land
//! after earlier submissions and before later ones, so one pair of arenas serves every batch).

use crate::context::Gpu;
use crate::transfer;
use mlx_arm_core::buffer::{Buffer, Data, DeviceMem, HostMem};
use mlx_arm_core::memory::{self, Reservation};
use mlx_arm_core::{Dtype, Error, Result};
use mlx_arm_wgsl::sources::KernelKey;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// Most dispatches recorded before a flush is forced (the params arena holds one batch).
const BATCH_BUDGET: usize = 512;

/// Whether f16/bf16 arrays moved with `to_device` stay packed on the GPU (`MLX_ARM_GPU_PACK16`,
/// default on).
fn pack16() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MLX_ARM_GPU_PACK16").map_or(true, |v| v != "0"))
}

/// Dispatches per submission: `MLX_ARM_BATCH` (1 to 512, default 512). Smaller batches let the
/// GPU start on an eval's first dispatches while the host still records the rest.
fn batch_budget() -> usize {
    static BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        std::env::var("MLX_ARM_BATCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&b| (1..=BATCH_BUDGET).contains(&b))
            .unwrap_or(BATCH_BUDGET)
    })
}
/// Bytes of the params arena (one aligned slot per dispatch of a batch).
const PARAMS_ARENA: u64 = BATCH_BUDGET as u64 * 256;
/// Bytes of the dims arena; a batch whose dims would overflow it is flushed first.
const DIMS_ARENA: u64 = 1 << 20;
/// Invocations per workgroup of the 1-D kernels.
pub const WG: u32 = 256;

struct Dispatch {
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
    /// The kernel's key as text, kept only while profiling.
    label: Option<String>,
}

/// The dispatches recorded since the last flush and the bytes of their params and dims.
#[derive(Default)]
struct Batch {
    dispatches: Vec<Dispatch>,
    params: Vec<u8>,
    dims: Vec<u8>,
}

/// Appends `words` to `bytes` at the next multiple of `align`, returning the offset.
fn append_aligned(bytes: &mut Vec<u8>, words: &[u8], align: usize) -> u64 {
    let off = bytes.len().next_multiple_of(align);
    bytes.resize(off, 0);
    bytes.extend_from_slice(words);
    off as u64
}

#[derive(Default)]
struct Pool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    bytes: usize,
    limit: Option<usize>,
}

/// Shared state of the wgpu backend.
pub struct Engine {
    /// The device.
    pub gpu: Gpu,
    pipelines: Mutex<HashMap<(KernelKey, &'static str), Pipeline>>,
    pending: Mutex<Batch>,
    params_arena: wgpu::Buffer,
    dims_arena: wgpu::Buffer,
    pool: Mutex<Pool>,
    /// Bind groups made so far, by kernel and bound ranges: decode steps record the same
    /// dispatches over the same pooled buffers and arena offsets every step, so each bind group
    /// is made once. Emptied when a buffer leaves the pool for good (an entry keeps its buffers
    /// alive) and when it reaches [`BIND_CACHE_MAX`] entries.
    bind_groups: Mutex<HashMap<BindKey, wgpu::BindGroup>>,
    /// Bind groups are cached (`MLX_ARM_BIND_CACHE=0` turns it off, for measurements).
    cache_bind_groups: bool,
    /// Timestamps around every dispatch (`MLX_ARM_GPU_PROFILE=1`, see [`crate::profile`]).
    profiling: bool,
    /// wgpu's shader runtime checks on (`MLX_ARM_SHADER_CHECKS=1`); off by default.
    shader_checks: bool,
}

/// Most cached bind groups (see `Engine::bind_groups`).
const BIND_CACHE_MAX: usize = 4096;

/// What a bind group binds: the kernel (hence its layout), the params and dims arena ranges and
/// the buffers at their bindings.
#[derive(Hash, PartialEq, Eq)]
struct BindKey {
    kernel: (KernelKey, &'static str),
    params: (u64, u64),
    dims: Option<(u64, u64)>,
    buffers: Vec<(u32, wgpu::Buffer)>,
}

/// A compiled pipeline and its bind group layout.
#[derive(Clone)]
struct Pipeline {
    pipeline: Arc<wgpu::ComputePipeline>,
    layout: wgpu::BindGroupLayout,
}

/// A GPU allocation holding `len` elements (4 bytes each) of some dtype, or, for f16/bf16 moved
/// with `to_device`, 2 bytes each packed two per word ([`GpuMem::packed16`]); returned to the
/// pool when dropped.
pub struct GpuMem {
    /// The buffer (size is a pool size class, at least `4 * len`).
    pub buffer: Option<wgpu::Buffer>,
    /// 16-bit floats packed two per u32 word (the host layout) instead of widened to f32: only
    /// kernels that say so read it as is (the quantized kernels' scales and biases); for the
    /// others `Resident::of` widens it, and the widened copy replaces this one.
    pub packed16: bool,
    engine: Arc<Engine>,
    _reservation: Reservation,
    /// A started readback: the staging buffer, the submission that fills it, the words copied.
    prefetched: Mutex<Option<(wgpu::Buffer, wgpu::SubmissionIndex, usize)>>,
}

impl GpuMem {
    /// Forgets a started readback: the memory is about to be written in place, so what that
    /// copy holds would be stale.
    pub fn forget_prefetch(&self) {
        self.prefetched.lock().unwrap().take();
    }
    /// Whether this memory was allocated by `engine`.
    pub fn belongs_to(&self, engine: &Arc<Engine>) -> bool {
        Arc::ptr_eq(&self.engine, engine)
    }

    /// The wgpu buffer.
    pub fn buf(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("live until dropped")
    }

    /// Words holding `len` elements.
    fn words(&self, len: usize) -> usize {
        if self.packed16 {
            len.div_ceil(2)
        } else {
            len
        }
    }
    /// Host bytes of `len` elements of `dtype` from `words` read back.
    fn to_host(&self, dtype: Dtype, words: &[u8], len: usize) -> Result<HostMem> {
        if self.packed16 {
            return HostMem::from_bytes(&words[..2 * len]);
        }
        HostMem::from_bytes(&transfer::from_gpu_layout(dtype, words, len))
    }
}

impl Drop for GpuMem {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.engine.release(b);
        }
    }
}

fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(16);
    if b <= 4096 {
        return b.next_power_of_two();
    }
    // quarter steps between powers of two: at most 25% waste
    let p = 63 - b.leading_zeros() as u64;
    let step = 1u64 << (p - 2);
    b.div_ceil(step) * step
}

impl DeviceMem for GpuMem {
    fn read(&self, dtype: Dtype, len: usize) -> Result<HostMem> {
        let n = self.words(len);
        let started = self.prefetched.lock().unwrap().take().filter(|p| p.2 == n);
        let words = match started {
            Some((staging, index, _)) => self.engine.finish_read(&staging, index, n)?,
            None => self.engine.read_back(self.buf(), n)?,
        };
        self.to_host(dtype, &words, len)
    }
    fn prefetch(&self, _dtype: Dtype, len: usize) -> Result<()> {
        let n = self.words(len);
        let mut slot = self.prefetched.lock().unwrap();
        if slot.is_none() {
            let (staging, index) = self.engine.stage_copy(self.buf(), n)?;
            *slot = Some((staging, index, n));
        }
        Ok(())
    }
    fn read_async(
        &self,
        dtype: Dtype,
        len: usize,
    ) -> Pin<Box<dyn Future<Output = Result<HostMem>> + '_>> {
        Box::pin(async move {
            let words = self
                .engine
                .read_back_async(self.buf(), self.words(len))
                .await?;
            self.to_host(dtype, &words, len)
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Engine {
    /// Wraps an opened device.
    pub fn new(gpu: Gpu) -> Arc<Engine> {
        let shader_checks = matches!(std::env::var("MLX_ARM_SHADER_CHECKS").as_deref(), Ok("1"));
        let arena = |label, size, usage| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: usage | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let params_arena = arena("mlx-arm params", PARAMS_ARENA, wgpu::BufferUsages::UNIFORM);
        let dims_arena = arena("mlx-arm dims", DIMS_ARENA, wgpu::BufferUsages::STORAGE);
        let profiling = gpu.features.contains(crate::profile::FEATURES);
        Arc::new(Engine {
            gpu,
            pipelines: Mutex::default(),
            pending: Mutex::default(),
            params_arena,
            dims_arena,
            pool: Mutex::default(),
            bind_groups: Mutex::default(),
            cache_bind_groups: std::env::var("MLX_ARM_BIND_CACHE").as_deref() != Ok("0"),
            profiling,
            shader_checks,
        })
    }

    fn release(&self, b: wgpu::Buffer) {
        let mut pool = self.pool.lock().unwrap();
        let size = b.size() as usize;
        if pool.limit.is_some_and(|l| pool.bytes + size > l) {
            // over the cache limit: let wgpu free it, once no cached bind group holds it
            self.bind_groups.lock().unwrap().clear();
            return;
        }
        pool.bytes += size;
        pool.free.entry(b.size()).or_default().push(b);
    }

    /// Bytes held by the pool.
    pub fn cache_bytes(&self) -> usize {
        self.pool.lock().unwrap().bytes
    }
    /// Sets the pool limit, returning the previous one.
    pub fn set_cache_limit(&self, limit: usize) -> usize {
        let mut pool = self.pool.lock().unwrap();
        let prev = pool.limit.unwrap_or(usize::MAX);
        pool.limit = Some(limit);
        if pool.bytes > limit {
            pool.free.clear();
            pool.bytes = 0;
            self.bind_groups.lock().unwrap().clear();
        }
        prev
    }
    /// Drops every pooled buffer.
    pub fn clear_cache(&self) {
        let mut pool = self.pool.lock().unwrap();
        pool.free.clear();
        pool.bytes = 0;
        self.bind_groups.lock().unwrap().clear();
    }

    /// A buffer for `len` 32-bit elements, from the pool when one fits.
    pub fn alloc(self: &Arc<Self>, len: usize) -> Result<Arc<GpuMem>> {
        let bytes = (len.max(1) * 4) as u64;
        let max = self
            .gpu
            .limits
            .max_storage_buffer_binding_size
            .min(self.gpu.limits.max_buffer_size);
        if bytes > max {
            return Err(Error::OutOfMemory {
                requested: bytes as usize,
                limit: max as usize,
                active: memory::get_active_memory(),
            });
        }
        let class = size_class(bytes).min(max.max(bytes));
        let reservation = memory::reserve(class as usize)?;
        let reused = {
            let mut pool = self.pool.lock().unwrap();
            let b = pool.free.get_mut(&class).and_then(|v| v.pop());
            if b.is_some() {
                pool.bytes -= class as usize;
            }
            b
        };
        let buffer = reused.unwrap_or_else(|| {
            self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("mlx-arm array"),
                size: class,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        });
        self.gpu.take_error()?;
        Ok(Arc::new(GpuMem {
            buffer: Some(buffer),
            packed16: false,
            engine: self.clone(),
            _reservation: reservation,
            prefetched: Mutex::default(),
        }))
    }

    /// The GPU copy of an input's buffer, uploading the host copy first if needed (the buffer
    /// then keeps both copies).
    pub fn resident(self: &Arc<Self>, d: &Data) -> Result<Arc<dyn DeviceMem>> {
        if let Some(m) = d.buffer.device_mem() {
            if m.as_any().is::<GpuMem>() {
                return Ok(m);
            }
        }
        let mem = self.upload(d)?;
        d.buffer.set_device_mem(mem.clone());
        Ok(mem)
    }

    /// The same view over a buffer that lives only on the GPU (the GPU copy of `d`'s buffer,
    /// uploaded when it has none), so dropping `d` frees its host copy. f16/bf16 buffers are
    /// uploaded packed (2 bytes per value, see [`GpuMem::packed16`]) unless
    /// `MLX_ARM_GPU_PACK16=0`.
    pub fn to_own_memory(self: &Arc<Self>, d: &Data) -> Result<Data> {
        let mem = match d.buffer.device_mem() {
            Some(m) if m.as_any().is::<GpuMem>() => m,
            _ if matches!(d.dtype(), Dtype::Float16 | Dtype::Bfloat16) && pack16() => {
                self.upload_bytes(d.buffer.host()?.bytes().to_vec(), true)?
            }
            _ => self.upload(d)?,
        };
        let buffer = Buffer::from_device(d.dtype(), d.buffer.len(), mem);
        Ok(Data {
            buffer,
            shape: d.shape.clone(),
            strides: d.strides.clone(),
            offset: d.offset,
        })
    }

    /// A fresh GPU buffer holding the host copy of `d`'s whole buffer in the GPU layout.
    fn upload(self: &Arc<Self>, d: &Data) -> Result<Arc<dyn DeviceMem>> {
        let host = d.buffer.host()?;
        self.upload_bytes(transfer::to_gpu_layout(d.dtype(), host.bytes())?, false)
    }

    /// A fresh GPU buffer holding `words` (packed 16-bit values when `packed16`).
    fn upload_bytes(
        self: &Arc<Self>,
        words: Vec<u8>,
        packed16: bool,
    ) -> Result<Arc<dyn DeviceMem>> {
        let reservation = memory::reserve(words.len().max(16).next_multiple_of(16))?;
        let mut contents = words;
        // whole 16-byte words, so the buffer can also be bound as an array of vec4
        contents.resize(contents.len().max(16).next_multiple_of(16), 0);
        // A fresh buffer: a pooled one might still be read by a recorded dispatch, and
        // queue writes land before the batch is submitted.
        let buffer = self
            .gpu
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("mlx-arm upload"),
                contents: &contents,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            });
        self.gpu.take_error()?;
        Ok(Arc::new(GpuMem {
            buffer: Some(buffer),
            packed16,
            engine: self.clone(),
            _reservation: reservation,
            prefetched: Mutex::default(),
        }))
    }

    /// `mem` (packed 16-bit floats of `dtype`, `len` values) widened to f32 words in a fresh
    /// buffer.
    pub fn widen16(
        self: &Arc<Self>,
        mem: &GpuMem,
        dtype: Dtype,
        len: usize,
    ) -> Result<Arc<GpuMem>> {
        let out = self.alloc(len)?;
        let key = KernelKey::Unpack16 {
            bf16: dtype == Dtype::Bfloat16,
        };
        self.dispatch_1d(
            &key,
            "main",
            &[len as u32, 0, 0, 0],
            None,
            &[(2, mem.buf()), (3, out.buf())],
            len.div_ceil(WG as usize),
        )?;
        Ok(out)
    }

    /// Evaluated data for a fresh dense output.
    pub fn output(mem: Arc<GpuMem>, dtype: Dtype, shape: &[usize]) -> Data {
        let n = mlx_arm_core::layout::numel(shape);
        Data::contiguous(Buffer::from_device(dtype, n, mem), shape.to_vec())
    }

    fn pipeline(&self, key: &KernelKey, entry: &'static str) -> Result<Pipeline> {
        if let Some(p) = self.pipelines.lock().unwrap().get(&(key.clone(), entry)) {
            return Ok(p.clone());
        }
        let source = key.source().ok_or_else(|| Error::Device {
            op: key.to_string(),
            what: "this op and dtype combination".into(),
            device: "Device(gpu, 0)".into(),
        })?;
        let label = key.to_string();
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(&label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        };
        let module = if self.shader_checks {
            self.gpu.device.create_shader_module(desc)
        } else {
            // SAFETY: wgpu's runtime checks (index clamping, loop bounding) cost the tiled
            // kernels 30-50x. Every kernel keeps its own accesses in bounds instead (audited):
            // grid tails return early (`i >= n`), tile loads/stores test the matrix edges,
            // workgroup arrays are indexed below their sizes, strided offsets come from views
            // that core validated, gather/scatter indices are clamped by `fix_index`, no dispatch
            // is recorded for empty shapes (no division by a zero extent), and every loop is
            // bounded by its params (the scatter-add CAS loop ends when its exchange succeeds).
            unsafe {
                self.gpu
                    .device
                    .create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
            }
        };
        let pipeline = self
            .gpu
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                cache: None,
            });
        self.gpu.take_error()?;
        let p = Pipeline {
            layout: pipeline.get_bind_group_layout(0),
            pipeline: Arc::new(pipeline),
        };
        // Two threads may compile the same kernel at once: the first pipeline stored wins and
        // both use it, since cached bind groups (keyed by kernel) must match its layout.
        Ok(self
            .pipelines
            .lock()
            .unwrap()
            .entry((key.clone(), entry))
            .or_insert(p)
            .clone())
    }

    /// Records one dispatch of `key`'s `entry` over `groups` workgroups (folded into 2-D) with
    /// uniform `params` at binding 0, `dims` (when the kernel reads them) at binding 1 and
    /// `buffers` at their bindings.
    pub fn dispatch(
        &self,
        key: &KernelKey,
        entry: &'static str,
        params: &[u32],
        dims: Option<&[i32]>,
        buffers: &[(u32, &wgpu::Buffer)],
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.iter().any(|&g| g == 0) {
            return Ok(());
        }
        let start = crate::profile::host().then(std::time::Instant::now);
        let Pipeline { pipeline, layout } = self.pipeline(key, entry)?;
        let mut p = params.to_vec();
        p.resize(p.len().next_multiple_of(4).max(4), 0);
        let mut d = dims.map(<[i32]>::to_vec).unwrap_or_default();
        d.resize(d.len().max(4), 0);
        let (p_bytes, d_bytes): (&[u8], &[u8]) =
            (bytemuck::cast_slice(&p), bytemuck::cast_slice(&d));
        if d_bytes.len() as u64 + 256 > DIMS_ARENA {
            return Err(Error::arg(
                "gpu dispatch",
                format!("{} dims words exceed the dims arena", d.len()),
            ));
        }
        let limits = &self.gpu.limits;
        let mut batch = self.pending.lock().unwrap();
        let d_align = limits.min_storage_buffer_offset_alignment as usize;
        if batch.dims.len().next_multiple_of(d_align) + d_bytes.len() > DIMS_ARENA as usize {
            self.submit_locked(&mut batch, |_| ())?;
        }
        let p_off = append_aligned(
            &mut batch.params,
            p_bytes,
            limits.min_uniform_buffer_offset_alignment as usize,
        );
        let d_off = append_aligned(&mut batch.dims, d_bytes, d_align);
        let bind_key = BindKey {
            kernel: (key.clone(), entry),
            params: (p_off, p_bytes.len() as u64),
            dims: dims.map(|_| (d_off, d_bytes.len() as u64)),
            buffers: buffers
                .iter()
                .map(|(b, buf)| (*b, (*buf).clone()))
                .collect(),
        };
        let cached = if self.cache_bind_groups {
            self.bind_groups.lock().unwrap().get(&bind_key).cloned()
        } else {
            None
        };
        let bind_group = match cached {
            Some(g) => g,
            None => {
                let binding = |buffer, offset, size: usize| {
                    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer,
                        offset,
                        size: std::num::NonZeroU64::new(size as u64),
                    })
                };
                let mut entries = vec![wgpu::BindGroupEntry {
                    binding: 0,
                    resource: binding(&self.params_arena, p_off, p_bytes.len()),
                }];
                if dims.is_some() {
                    entries.push(wgpu::BindGroupEntry {
                        binding: 1,
                        resource: binding(&self.dims_arena, d_off, d_bytes.len()),
                    });
                }
                for (b, buf) in buffers {
                    entries.push(wgpu::BindGroupEntry {
                        binding: *b,
                        resource: buf.as_entire_binding(),
                    });
                }
                let created = crate::profile::host().then(std::time::Instant::now);
                let g = self
                    .gpu
                    .device
                    .create_bind_group(&wgpu::BindGroupDescriptor {
                        label: None,
                        layout: &layout,
                        entries: &entries,
                    });
                self.gpu.take_error()?;
                crate::profile::add_host("host:record:bind_group", created);
                if self.cache_bind_groups {
                    let mut cache = self.bind_groups.lock().unwrap();
                    if cache.len() >= BIND_CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(bind_key, g.clone());
                }
                g
            }
        };
        let label = self.profiling.then(|| key.to_string());
        batch.dispatches.push(Dispatch {
            pipeline,
            bind_group,
            groups,
            label,
        });
        crate::profile::add_host("host:record", start);
        if batch.dispatches.len() >= batch_budget() {
            self.submit_locked(&mut batch, |_| ())?;
        }
        Ok(())
    }

    /// Records a 1-D dispatch of `total` workgroups, folded to stay under 65,535 per dimension.
    pub fn dispatch_1d(
        &self,
        key: &KernelKey,
        entry: &'static str,
        params: &[u32],
        dims: Option<&[i32]>,
        buffers: &[(u32, &wgpu::Buffer)],
        total_groups: usize,
    ) -> Result<()> {
        let max = self.gpu.limits.max_compute_workgroups_per_dimension as usize;
        let x = total_groups.min(max);
        let y = if x == 0 { 0 } else { total_groups.div_ceil(x) };
        if y > max {
            return Err(Error::arg(
                "gpu dispatch",
                format!("{total_groups} workgroups exceed the device's grid"),
            ));
        }
        self.dispatch(key, entry, params, dims, buffers, [x as u32, y as u32, 1])
    }

    /// Encodes every recorded dispatch into one compute pass and submits it.
    pub fn flush(&self) -> Result<()> {
        let mut pending = self.pending.lock().unwrap();
        self.submit_locked(&mut pending, |_| ()).map(|_| ())
    }

    /// Submits the recorded dispatches, then `after` (e.g. a readback copy), in one command
    /// buffer. Callers hold the pending lock for the whole submission, so batches reach the queue
    /// in the order they were recorded, whichever thread flushes (pooled buffers are reused across
    /// threads, so order matters).
    fn submit_locked(
        &self,
        pending: &mut Batch,
        after: impl FnOnce(&mut wgpu::CommandEncoder),
    ) -> Result<wgpu::SubmissionIndex> {
        let Batch {
            dispatches: batch,
            params,
            dims,
        } = std::mem::take(pending);
        let start = crate::profile::host().then(std::time::Instant::now);
        if !params.is_empty() {
            self.gpu.queue.write_buffer(&self.params_arena, 0, &params);
        }
        if !dims.is_empty() {
            self.gpu.queue.write_buffer(&self.dims_arena, 0, &dims);
        }
        let mut enc = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("mlx-arm batch"),
            });
        let per_dispatch = crate::profile::mode() == Some(crate::profile::Mode::Dispatch);
        let timed = if per_dispatch { batch.len() } else { 1 };
        let timestamps =
            (self.profiling && !batch.is_empty()).then(|| self.timestamp_buffers(timed));
        if !batch.is_empty() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("mlx-arm"),
                timestamp_writes: None,
            });
            let last = batch.len() - 1;
            for (i, d) in batch.iter().enumerate() {
                pass.set_pipeline(&d.pipeline);
                pass.set_bind_group(0, &d.bind_group, &[]);
                if let Some((qs, ..)) = &timestamps {
                    if per_dispatch || i == 0 {
                        pass.write_timestamp(qs, if per_dispatch { 2 * i as u32 } else { 0 });
                    }
                }
                pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
                if let Some((qs, ..)) = &timestamps {
                    if per_dispatch || i == last {
                        pass.write_timestamp(qs, if per_dispatch { 2 * i as u32 + 1 } else { 1 });
                    }
                }
            }
        }
        if let Some((qs, resolve, staging)) = &timestamps {
            let n = 2 * timed as u32;
            enc.resolve_query_set(qs, 0..n, resolve, 0);
            enc.copy_buffer_to_buffer(resolve, 0, staging, 0, n as u64 * 8);
        }
        after(&mut enc);
        let buffer = enc.finish();
        crate::profile::add_host("host:encode", start);
        let start = crate::profile::host().then(std::time::Instant::now);
        let index = self.gpu.queue.submit([buffer]);
        self.gpu.take_error()?;
        crate::profile::add_host("host:submit", start);
        if let Some((_, _, staging)) = &timestamps {
            let ticks = self.finish_read(staging, index.clone(), 4 * timed)?;
            let ticks: &[u64] = bytemuck::cast_slice(&ticks);
            let period = self.gpu.queue.get_timestamp_period() as f64 * 1e-9;
            if per_dispatch {
                for (d, t) in batch.iter().zip(ticks.chunks_exact(2)) {
                    crate::profile::add(
                        d.label.as_deref().unwrap_or("?"),
                        t[1].saturating_sub(t[0]) as f64 * period,
                    );
                }
            } else {
                crate::profile::add("pass", ticks[1].saturating_sub(ticks[0]) as f64 * period);
            }
        }
        Ok(index)
    }

    /// A query set for `n` dispatches' start and end timestamps, the buffer it resolves into
    /// and a staging buffer to read that from (profiling only).
    fn timestamp_buffers(&self, n: usize) -> (wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer) {
        let count = 2 * n as u32;
        let qs = self.gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("mlx-arm profile"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let buffer = |usage| {
            self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("mlx-arm profile"),
                size: count as u64 * 8,
                usage,
                mapped_at_creation: false,
            })
        };
        let resolve = buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
        let staging = buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
        (qs, resolve, staging)
    }

    /// Blocks until the queue is idle (native; a no-op on the web).
    pub fn wait(&self) -> Result<()> {
        self.wait_for(None)
    }

    /// Blocks until submission `index` (or, with `None`, everything submitted) has run. On the
    /// GL backend the wait goes in slices of 50 ms: wgpu holds GL's one context lock while it
    /// waits, and another thread that cannot take that lock within 6 s panics ("Could not lock
    /// adapter context"). Known gap: compiling a large kernel on a software GL driver can hold
    /// that lock as long, so GL is safe from one thread at a time only.
    fn wait_for(&self, index: Option<wgpu::SubmissionIndex>) -> Result<()> {
        let sliced = self.gpu.info.backend == wgpu::Backend::Gl;
        let timeout = sliced.then_some(std::time::Duration::from_millis(50));
        loop {
            let poll = wgpu::PollType::Wait {
                submission_index: index.clone(),
                timeout,
            };
            match self.gpu.device.poll(poll) {
                Ok(_) => return Ok(()),
                Err(wgpu::PollError::Timeout) if sliced => continue,
                Err(e) => {
                    return Err(Error::Backend {
                        backend: "wgpu",
                        detail: format!("waiting for the GPU: {e}"),
                    })
                }
            }
        }
    }

    /// Submits pending work plus a copy of `len` words of `src` into a new staging buffer.
    fn stage_copy(
        &self,
        src: &wgpu::Buffer,
        len: usize,
    ) -> Result<(wgpu::Buffer, wgpu::SubmissionIndex)> {
        let bytes = (len.max(1) * 4) as u64;
        let staging = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mlx-arm readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut pending = self.pending.lock().unwrap();
        let index = self.submit_locked(&mut pending, |enc| {
            enc.copy_buffer_to_buffer(src, 0, &staging, 0, bytes)
        })?;
        Ok((staging, index))
    }

    /// Blocking readback of `len` 32-bit words (flushes pending work first).
    pub fn read_back(&self, src: &wgpu::Buffer, len: usize) -> Result<Vec<u8>> {
        let (staging, index) = self.stage_copy(src, len)?;
        self.finish_read(&staging, index, len)
    }

    /// Maps a staging buffer filled by submission `index` and copies its `len` words out,
    /// waiting for that submission only (work submitted after it keeps running).
    fn finish_read(
        &self,
        staging: &wgpu::Buffer,
        index: wgpu::SubmissionIndex,
        len: usize,
    ) -> Result<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait_for(Some(index))?;
        rx.recv()
            .map_err(|_| Error::Backend {
                backend: "wgpu",
                detail: "readback callback dropped".into(),
            })?
            .map_err(|e| Error::Backend {
                backend: "wgpu",
                detail: format!("mapping a readback buffer: {e}"),
            })?;
        read_mapped(staging, len)
    }

    /// Readback that awaits the map instead of blocking (the path the web needs).
    pub async fn read_back_async(&self, src: &wgpu::Buffer, len: usize) -> Result<Vec<u8>> {
        let (staging, _) = self.stage_copy(src, len)?;
        let slot: Arc<
            Mutex<(
                Option<std::result::Result<(), wgpu::BufferAsyncError>>,
                Option<std::task::Waker>,
            )>,
        > = Arc::default();
        let s2 = slot.clone();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let mut g = s2.lock().unwrap();
            g.0 = Some(r);
            if let Some(w) = g.1.take() {
                w.wake();
            }
        });
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.wait_for(None);
        std::future::poll_fn(|cx| {
            let mut g = slot.lock().unwrap();
            match g.0.take() {
                Some(r) => std::task::Poll::Ready(r),
                None => {
                    g.1 = Some(cx.waker().clone());
                    std::task::Poll::Pending
                }
            }
        })
        .await
        .map_err(|e| Error::Backend {
            backend: "wgpu",
            detail: format!("mapping a readback buffer: {e}"),
        })?;
        read_mapped(&staging, len)
    }
}

/// Copies `len` words out of a mapped staging buffer and unmaps it.
fn read_mapped(staging: &wgpu::Buffer, len: usize) -> Result<Vec<u8>> {
    let view = staging.get_mapped_range(..).map_err(|e| Error::Backend {
        backend: "wgpu",
        detail: format!("reading a mapped buffer: {e}"),
    })?;
    let out = view[..len * 4].to_vec();
    drop(view);
    staging.unmap();
    Ok(out)
}
