//! Memory of the server under test, read from /proc: which processes make it up (workerd
//! below the wrangler we started, or the baseline server), and a sampler that tracks the sum
//! of their resident set sizes while a scenario runs.

use e2e::procfs::{cmdline, comm, descendants};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the sampler reads /proc.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// A `kB` field of /proc/PID/status (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..].split_whitespace().next()?.parse().ok()
}

/// Open file descriptors of a process.
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// CPU time (user + system) a process has used, from /proc/PID/stat.
pub fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rfind(')').map(|i| stat[i + 1..].split_whitespace().collect()).unwrap_or_default();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / per_sec)
}

/// CPU time used by this process and everything below it (wrangler, workerd, the baseline).
pub fn own_tree_cpu() -> Duration {
    let me = std::process::id() as i32;
    std::iter::once(me).chain(descendants(me)).map(cpu_time).sum()
}

/// CPU time all cores have spent busy since boot, from /proc/stat.
pub fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let busy: u64 = fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    // SAFETY: sysconf has no preconditions.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(busy * 1_000_000 / per_sec)
}

/// What to measure: the workerd processes below a wrangler, or one process.
#[derive(Debug, Clone, Copy)]
pub enum Watch {
    /// `port` is the relay's public port: the workerd listening on it is wrangler's proxy in
    /// front of the workerd that runs the Worker and its objects.
    Workerd { wrangler: i32, port: u16 },
    Process(i32),
}

impl Watch {
    pub fn pids(self) -> Vec<i32> {
        match self {
            Watch::Workerd { wrangler, .. } => {
                descendants(wrangler).into_iter().filter(|&p| comm(p).starts_with("workerd")).collect()
            }
            Watch::Process(pid) => vec![pid],
        }
    }

    /// Each watched process named by its part: `proxy` or `runtime` for workerd, `server`
    /// for one process.
    fn parts(self) -> Vec<(&'static str, i32)> {
        let proxy_flag = match self {
            Watch::Workerd { port, .. } => format!("--socket-addr=entry=127.0.0.1:{port}"),
            Watch::Process(pid) => return vec![("server", pid)],
        };
        let mut parts: Vec<_> = self
            .pids()
            .into_iter()
            .map(|pid| (if cmdline(pid).contains(&proxy_flag) { "proxy" } else { "runtime" }, pid))
            .collect();
        parts.sort();
        parts
    }

    /// VmRSS of each part, KiB.
    pub fn parts_kib(self) -> Vec<(&'static str, u64)> {
        self.parts().into_iter().map(|(part, pid)| (part, status_kib(pid, "VmRSS").unwrap_or(0))).collect()
    }

    /// The workerd that runs the Worker (not wrangler's proxy in front of it).
    pub fn runtime_pid(self) -> Option<i32> {
        self.parts().into_iter().find(|(part, _)| *part == "runtime").map(|(_, pid)| pid)
    }

    /// Open file descriptors of each part.
    pub fn parts_fds(self) -> Vec<(&'static str, usize)> {
        self.parts().into_iter().map(|(part, pid)| (part, fd_count(pid))).collect()
    }

    /// CPU time (user + system) each part has used so far.
    pub fn parts_cpu(self) -> Vec<(&'static str, Duration)> {
        self.parts().into_iter().map(|(part, pid)| (part, cpu_time(pid))).collect()
    }

    /// Sum of `field` over the watched processes, in KiB.
    pub fn sum_kib(self, field: &str) -> u64 {
        self.pids().into_iter().filter_map(|p| status_kib(p, field)).sum()
    }
}

/// Samples the watched processes' summed VmRSS in the background until dropped.
pub struct Sampler {
    watch: Watch,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sampler {
    pub fn start(watch: Watch) -> Sampler {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(watch.sum_kib("VmRSS"), Ordering::Relaxed);
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Sampler { watch, peak, stop, thread: Some(thread) }
    }

    /// Resident set size now, KiB.
    pub fn now_kib(&self) -> u64 {
        let now = self.watch.sum_kib("VmRSS");
        self.peak.fetch_max(now, Ordering::Relaxed);
        now
    }

    /// Highest sampled resident set size since the start, KiB.
    pub fn peak_kib(&self) -> u64 {
        self.now_kib();
        self.peak.load(Ordering::Relaxed)
    }

    /// The kernel's own high-water mark (VmHWM), summed over the processes, KiB: catches a
    /// peak shorter than the sampling interval.
    pub fn hwm_kib(&self) -> u64 {
        self.watch.sum_kib("VmHWM")
    }

    pub fn processes(&self) -> usize {
        self.watch.pids().len()
    }

    pub fn parts_kib(&self) -> Vec<(&'static str, u64)> {
        self.watch.parts_kib()
    }

    pub fn parts_cpu(&self) -> Vec<(&'static str, Duration)> {
        self.watch.parts_cpu()
    }

    pub fn parts_fds(&self) -> Vec<(&'static str, usize)> {
        self.watch.parts_fds()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert!(status_kib(me, "VmRSS").unwrap() > 0);
        assert!(status_kib(me, "VmHWM").unwrap() >= status_kib(me, "VmRSS").unwrap() / 2);
        // Busy until the kernel has counted a tick of CPU time (the machine may be busy).
        let spin = std::time::Instant::now();
        while cpu_time(me) == Duration::ZERO && spin.elapsed() < Duration::from_secs(10) {}
        assert!(cpu_time(me) > Duration::ZERO);
        assert!(fd_count(me) >= 3);
    }
}
