//! NVIDIA GPUs through NVML (feature `nvml`), as MLflow's `GPUMonitor` reads them with pynvml.
//! The library (`libnvidia-ml.so.1`, `nvml.dll`) is loaded at run time: without a driver
//! there is simply no GPU monitor.

use nvml_wrapper::Nvml;

use super::round1;

/// The GPUs of the machine.
pub(crate) struct GpuMonitor {
    nvml: Nvml,
    count: u32,
}

impl GpuMonitor {
    /// Loads NVML and counts the GPUs; `None` when there is no driver or no GPU.
    pub(crate) fn new() -> Option<Self> {
        let nvml = Nvml::init().ok()?;
        let count = nvml.device_count().ok()?;
        (count > 0).then_some(GpuMonitor { nvml, count })
    }

    /// Number of GPUs.
    pub(crate) fn count(&self) -> usize {
        self.count as usize
    }

    /// One sample of every GPU: MLflow's keys without the `system/` prefix. A figure the
    /// device does not report is left out of this sample.
    pub(crate) fn sample(&mut self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for i in 0..self.count {
            let Ok(device) = self.nvml.device_by_index(i) else {
                continue;
            };
            if let Ok(memory) = device.memory_info()
                && memory.total > 0
            {
                out.push((
                    format!("gpu_{i}_memory_usage_percentage"),
                    round1(memory.used as f64 / memory.total as f64 * 100.0),
                ));
                out.push((
                    format!("gpu_{i}_memory_usage_megabytes"),
                    memory.used as f64 / 1e6,
                ));
            }
            if let Ok(utilization) = device.utilization_rates() {
                out.push((
                    format!("gpu_{i}_utilization_percentage"),
                    f64::from(utilization.gpu),
                ));
            }
            if let (Ok(power), Ok(limit)) = (device.power_usage(), device.enforced_power_limit())
                && limit > 0
            {
                out.push((
                    format!("gpu_{i}_power_usage_watts"),
                    f64::from(power) / 1000.0,
                ));
                out.push((
                    format!("gpu_{i}_power_usage_percentage"),
                    f64::from(power) / f64::from(limit) * 100.0,
                ));
            }
        }
        out
    }
}
