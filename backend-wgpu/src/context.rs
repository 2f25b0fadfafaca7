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
    errors: Arc<Mutex<Vec<String>>>,
}

impl Gpu {
    /// Opens the highest-performance adapter (`WGPU_BACKEND` selects vulkan/gl/dx12/metal).
    pub async fn open() -> Result<Gpu> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
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
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("mlx-arm"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoDevice(format!("could not open {}: {e}", info.name)))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().push(e.to_string());
        }));
        Ok(Gpu { device, queue, info, limits, errors })
    }

    /// The first error wgpu reported since the last call, as an `Error`.
    pub fn take_error(&self) -> Result<()> {
        let mut errs = self.errors.lock().unwrap();
        if errs.is_empty() {
            return Ok(());
        }
        let msg = errs.join("; ");
        errs.clear();
        Err(Error::Backend { backend: "wgpu", detail: msg })
    }

    /// One line describing the adapter.
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?}, driver {} {})", self.info.name, self.info.backend, self.info.device_type, self.info.driver, self.info.driver_info)
    }
}
