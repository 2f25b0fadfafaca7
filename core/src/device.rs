//! Devices and streams, and the default device: the GPU when an adapter is found, else the CPU.

use std::cell::RefCell;
use std::fmt;

/// The kind of processor a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    /// The host CPU (rayon + SIMD backend).
    Cpu,
    /// A GPU reached through wgpu.
    Gpu,
}

/// A processor ops run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Device {
    /// CPU or GPU.
    pub kind: DeviceType,
    /// Index among devices of that kind (always 0 today).
    pub index: u32,
}

impl Device {
    /// The host CPU.
    pub fn cpu() -> Device {
        Device {
            kind: DeviceType::Cpu,
            index: 0,
        }
    }
    /// The first GPU. Ops on it fail with [`crate::Error::NoDevice`] when no adapter exists.
    pub fn gpu() -> Device {
        Device {
            kind: DeviceType::Gpu,
            index: 0,
        }
    }
    /// The device ops use when none is given: set with [`set_default_device`], else the
    /// `MLX_ARM_DEVICE` environment variable (`cpu`/`gpu`), else the GPU if an adapter is found.
    pub fn default_device() -> Device {
        if let Some(d) = DEFAULT.with(|d| *d.borrow()) {
            return d;
        }
        crate::backend::default_device()
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DeviceType::Cpu => write!(f, "Device(cpu, {})", self.index),
            DeviceType::Gpu => write!(f, "Device(gpu, {})", self.index),
        }
    }
}

/// An ordered queue of work on a device. MLX-ARM runs one stream per device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stream {
    /// The device this stream runs on.
    pub device: Device,
}

impl Stream {
    /// The default stream of `device`.
    pub fn new(device: Device) -> Stream {
        Stream { device }
    }
    /// The default stream of the default device.
    pub fn default_stream() -> Stream {
        Stream::new(Device::default_device())
    }
    /// The CPU stream.
    pub fn cpu() -> Stream {
        Stream::new(Device::cpu())
    }
    /// The GPU stream.
    pub fn gpu() -> Stream {
        Stream::new(Device::gpu())
    }
}

impl From<Device> for Stream {
    fn from(d: Device) -> Stream {
        Stream::new(d)
    }
}
impl From<&Device> for Stream {
    fn from(d: &Device) -> Stream {
        Stream::new(*d)
    }
}
impl From<&Stream> for Stream {
    fn from(s: &Stream) -> Stream {
        *s
    }
}

thread_local! {
    static DEFAULT: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// Sets this thread's default device.
pub fn set_default_device(device: Device) {
    DEFAULT.with(|d| *d.borrow_mut() = Some(device));
}

/// Runs `f` with `device` as this thread's default device, restoring the previous one after.
pub fn with_default_device<R>(device: Device, f: impl FnOnce() -> R) -> R {
    let prev = DEFAULT.with(|d| d.borrow_mut().replace(device));
    let out = f();
    DEFAULT.with(|d| *d.borrow_mut() = prev);
    out
}
