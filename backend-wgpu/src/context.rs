//! Adapter and device creation, and the device's error sink: wgpu reports validation and
//! out-of-memory errors through a callback; they are recorded here and turned into `Error`s.

use mlx_arm_core::{Error, Result};
use std::sync::{Arc, Mutex};

/// An open wgpu device and what the adapter offers.
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter name, driver, backend.
    pub info: wgpu::AdapterInfo,
    /// Limits granted to the device (the adapter's own).
    pub limits: wgpu::Limits,
    /// Optional features the device was opened with (SHADER_F16, SUBGROUP, cooperative matrices).
    pub features: wgpu::Features,
    /// 16x16x16 f16 x f16 -> f32 cooperative matrices on subgroups of exactly 32 (tensor cores).
    pub coop_f16: bool,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Gpu {
    /// Opens the highest-performance adapter (`WGPU_BACKEND` selects vulkan/gl/dx12/metal).
    pub async fn open() -> Result<Gpu> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoDevice(format!("no GPU adapter found: {e}")))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let offered = adapter.features();
        let mut features = offered & (wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP);
        if crate::profile::requested() && offered.contains(crate::profile::FEATURES) {
            features |= crate::profile::FEATURES;
        }
        let coop_f16 = coop_f16_offered(&adapter, &info, offered);
        if coop_f16 {
            features |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("mlx-arm"),
                required_features: features,
                required_limits: limits.clone(),
                // SAFETY: the experimental feature requested (cooperative matrices) is used only
                // by the *_coop kernels, whose cooperative loads and stores stay inside workgroup
                // arrays they size themselves; it is requested only where the adapter reports the
                // exact configuration they use.
                experimental_features: if coop_f16 {
                    unsafe { wgpu::ExperimentalFeatures::enabled() }
                } else {
                    wgpu::ExperimentalFeatures::disabled()
                },
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoDevice(format!("could not open {}: {e}", info.name)))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().push(e.to_string());
        }));
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            coop_f16,
            errors,
        })
    }

    /// The first error wgpu reported since the last call, as an `Error`.
    pub fn take_error(&self) -> Result<()> {
        let mut errs = self.errors.lock().unwrap();
        if errs.is_empty() {
            return Ok(());
        }
        let msg = errs.join("; ");
        errs.clear();
        Err(Error::Backend {
            backend: "wgpu",
            detail: msg,
        })
    }

    /// One line describing the adapter.
    pub fn describe(&self) -> String {
        let mut extras = vec![];
        if self.features.contains(wgpu::Features::SHADER_F16) {
            extras.push("f16");
        }
        if self.features.contains(wgpu::Features::SUBGROUP) {
            extras.push("subgroups");
        }
        if self.coop_f16 {
            extras.push("cooperative matrices");
        }
        format!(
            "{} ({:?}, {:?}, driver {} {}; {})",
            self.info.name,
            self.info.backend,
            self.info.device_type,
            self.info.driver,
            self.info.driver_info,
            if extras.is_empty() {
                "no optional features".to_string()
            } else {
                extras.join(", ")
            }
        )
    }
}

/// Whether the adapter runs the cooperative-matrix kernels: the feature, SHADER_F16, subgroups of
/// exactly 32 and a 16x16x16 f16 x f16 -> f32 configuration. On where offered (f16 matmul, the
/// quantized matmul and attention of prefill shapes use them); `MLX_ARM_COOP_MATRIX=0` turns
/// them off.
fn coop_f16_offered(
    adapter: &wgpu::Adapter,
    info: &wgpu::AdapterInfo,
    offered: wgpu::Features,
) -> bool {
    if matches!(std::env::var("MLX_ARM_COOP_MATRIX").as_deref(), Ok("0")) {
        return false;
    }
    let needed = wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX
        | wgpu::Features::SHADER_F16
        | wgpu::Features::SUBGROUP;
    if !offered.contains(needed) || info.subgroup_min_size != 32 || info.subgroup_max_size != 32 {
        return false;
    }
    adapter.cooperative_matrix_properties().iter().any(|p| {
        (p.m_size, p.n_size, p.k_size) == (16, 16, 16)
            && p.ab_type == wgpu::CooperativeScalarType::F16
            && p.cr_type == wgpu::CooperativeScalarType::F32
    })
}
