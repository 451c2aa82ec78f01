//! The sampling half of the monitor: one [`Sampler`] reads CPU, memory, disk, network (and GPU)
//! figures the way `psutil` does for MLflow, and aggregates them per logged step.

use std::collections::BTreeMap;

#[cfg(feature = "nvml")]
use super::gpu;
use super::round1;

/// Values of the averaged metrics, in first-seen order (MLflow logs its dict in this order).
#[derive(Debug, Default, Clone)]
struct Series {
    order: Vec<String>,
    values: BTreeMap<String, Vec<f64>>,
}

impl Series {
    fn push(&mut self, key: &str, value: f64) {
        match self.values.get_mut(key) {
            Some(v) => v.push(value),
            None => {
                self.order.push(key.to_string());
                self.values.insert(key.to_string(), vec![value]);
            }
        }
    }

    fn means(&self) -> Vec<(String, f64)> {
        self.order
            .iter()
            .filter_map(|k| {
                let v = self.values.get(k)?;
                (!v.is_empty()).then(|| (k.clone(), round1(v.iter().sum::<f64>() / v.len() as f64)))
            })
            .collect()
    }
}

/// Reads the machine's figures. [`collect`](Self::collect) takes one sample,
/// [`aggregate`](Self::aggregate) returns the values of one step (keys without the `system/`
/// prefix), [`clear`](Self::clear) starts the next step.
pub struct Sampler {
    system: Option<sysinfo::System>,
    networks: Option<sysinfo::Networks>,
    /// Megabytes received and sent when the sampler started.
    network_initial: Option<(f64, f64)>,
    #[cfg(feature = "nvml")]
    gpu: Option<gpu::GpuMonitor>,
    averaged: Series,
    /// Network figures: the last sample, not a mean (as MLflow).
    latest: Vec<(String, f64)>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("averaged", &self.averaged)
            .field("latest", &self.latest)
            .finish_non_exhaustive()
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

impl Sampler {
    /// A sampler whose CPU and network baselines are now. GPUs are found through NVML when the
    /// `nvml` feature is on and a driver is installed; otherwise there are no GPU metrics.
    pub fn new() -> Self {
        let mut system = sysinfo::System::new().ok();
        if let Some(s) = system.as_mut() {
            s.refresh_cpu_usage();
        }
        let networks = sysinfo::Networks::new_with_refreshed_list().ok();
        let network_initial = networks.as_ref().map(network_megabytes);
        Sampler {
            system,
            networks,
            network_initial,
            #[cfg(feature = "nvml")]
            gpu: gpu::GpuMonitor::new(),
            averaged: Series::default(),
            latest: Vec::new(),
        }
    }

    /// Number of GPUs sampled.
    pub fn gpu_count(&self) -> usize {
        #[cfg(feature = "nvml")]
        {
            self.gpu.as_ref().map_or(0, |g| g.count())
        }
        #[cfg(not(feature = "nvml"))]
        {
            0
        }
    }

    /// Takes one sample of every figure.
    pub fn collect(&mut self) {
        if let Some(system) = self.system.as_mut() {
            // CPU busy share since the previous refresh (psutil.cpu_percent()), rounded as
            // psutil rounds it.
            system.refresh_cpu_usage();
            let cpu = round1(f64::from(system.global_cpu_usage()));
            self.averaged.push("cpu_utilization_percentage", cpu);
            system.refresh_memory();
            let total = system.total_memory() as f64;
            let used = total - system.available_memory() as f64;
            self.averaged
                .push("system_memory_usage_megabytes", used / 1e6);
            if total > 0.0 {
                self.averaged
                    .push("system_memory_usage_percentage", used / total * 100.0);
            }
        }
        if let Some(disk) = disk_usage() {
            self.averaged.push("disk_usage_percentage", disk.percent);
            self.averaged
                .push("disk_usage_megabytes", disk.used as f64 / 1e6);
            self.averaged
                .push("disk_available_megabytes", disk.free as f64 / 1e6);
        }
        if let (Some(networks), Some((rx0, tx0))) = (self.networks.as_mut(), self.network_initial) {
            networks.refresh(true);
            let (rx, tx) = network_megabytes(networks);
            self.latest = vec![
                ("network_receive_megabytes".to_string(), rx - rx0),
                ("network_transmit_megabytes".to_string(), tx - tx0),
            ];
        }
        #[cfg(feature = "nvml")]
        if let Some(gpu) = self.gpu.as_mut() {
            for (key, value) in gpu.sample() {
                self.averaged.push(&key, value);
            }
        }
    }

    /// The values of the current step: means rounded to one decimal, network figures as last
    /// sampled. Keys have no `system/` prefix.
    pub fn aggregate(&self) -> Vec<(String, f64)> {
        let mut out = self.averaged.means();
        // MLflow's monitor order: CPU/memory, disk, network, GPU.
        let gpu_start = out
            .iter()
            .position(|(k, _)| k.starts_with("gpu_"))
            .unwrap_or(out.len());
        let gpu = out.split_off(gpu_start);
        out.extend(self.latest.iter().cloned());
        out.extend(gpu);
        out
    }

    /// Forgets the samples of the current step.
    pub fn clear(&mut self) {
        self.averaged = Series::default();
        self.latest.clear();
    }
}

/// Total megabytes received and sent on every interface (loopback included, as psutil's
/// `net_io_counters()`), divided as MLflow divides them.
fn network_megabytes(networks: &sysinfo::Networks) -> (f64, f64) {
    let (rx, tx) = networks.values().fold((0u64, 0u64), |(rx, tx), data| {
        (
            rx.saturating_add(data.total_received()),
            tx.saturating_add(data.total_transmitted()),
        )
    });
    (rx as f64 / 1e6, tx as f64 / 1e6)
}

/// psutil's `disk_usage("/")`.
struct DiskUsage {
    used: u64,
    free: u64,
    percent: f64,
}

#[cfg(unix)]
fn disk_usage() -> Option<DiskUsage> {
    let path = std::ffi::CString::new("/").ok()?;
    // SAFETY: `statvfs` only writes into the zeroed struct we own; `path` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    let (blocks, bfree, bavail, frsize) = (
        st.f_blocks as u64,
        st.f_bfree as u64,
        st.f_bavail as u64,
        st.f_frsize as u64,
    );
    let total = blocks.saturating_mul(frsize);
    let used = total.saturating_sub(bfree.saturating_mul(frsize));
    let free = bavail.saturating_mul(frsize);
    let user_total = used + free;
    let percent = if user_total == 0 {
        0.0
    } else {
        round1(used as f64 / user_total as f64 * 100.0)
    };
    Some(DiskUsage {
        used,
        free,
        percent,
    })
}

#[cfg(not(unix))]
fn disk_usage() -> Option<DiskUsage> {
    // The disk holding the current directory (the system drive when that is unknown).
    // sysinfo 0.40 returns a Result (no disk list) where it cannot enumerate the volumes.
    let disks = sysinfo::Disks::new_with_refreshed_list().ok()?;
    let cwd = std::env::current_dir().ok();
    let disk = disks
        .iter()
        .filter(|d| cwd.as_ref().is_some_and(|c| c.starts_with(d.mount_point())))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .or_else(|| disks.iter().next())?;
    let total = disk.total_space();
    let free = disk.available_space();
    let used = total.saturating_sub(free);
    let percent = if total == 0 {
        0.0
    } else {
        round1(used as f64 / total as f64 * 100.0)
    };
    Some(DiskUsage {
        used,
        free,
        percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_reports_the_working_directory_disk() {
        // The unix (statvfs) and the other (sysinfo) branch both: the Windows one is compiled
        // and run by the Windows CI under Wine.
        // Wine lists no volumes to sysinfo: there the other branch finds no disk (the disk
        // metrics are then left out, as for any platform sysinfo cannot read).
        let usage = disk_usage();
        #[cfg(unix)]
        let usage = Some(usage.expect("statvfs(\"/\") always answers on unix"));
        let Some(usage) = usage else {
            return;
        };
        assert!(usage.used > 0 || usage.free > 0);
        assert!((0.0..=100.0).contains(&usage.percent), "{}", usage.percent);
    }

    #[test]
    fn rounds_like_python() {
        assert_eq!(round1(0.25), 0.2);
        assert_eq!(round1(0.35), 0.3); // 0.35 is 0.34999… in binary
        assert_eq!(round1(36.55), 36.5);
        assert_eq!(round1(1781.44), 1781.4);
        assert_eq!(round1(-0.06), -0.1);
    }

    #[test]
    fn series_keeps_first_seen_order_and_averages() {
        let mut s = Series::default();
        s.push("b", 1.0);
        s.push("a", 2.0);
        s.push("b", 2.0);
        assert_eq!(s.means(), vec![("b".into(), 1.5), ("a".into(), 2.0)]);
    }
}
