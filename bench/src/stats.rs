//! Latency samples and their percentiles, and the process-wide clock that message bodies carry.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The instant every embedded timestamp counts from. Senders and receivers are in this one
/// process, so a body's timestamp and the receive instant share a monotonic clock.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Microseconds since [`epoch`].
pub fn now_micros() -> u64 {
    epoch().elapsed().as_micros() as u64
}

/// Latency samples in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    micros: Vec<u64>,
}

/// Nearest-rank percentiles of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.micros.push(d.as_micros() as u64);
    }

    pub fn push_micros(&mut self, micros: u64) {
        self.micros.push(micros);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
    }

    pub fn summary(&self) -> Option<Summary> {
        if self.micros.is_empty() {
            return None;
        }
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let at = |p: f64| {
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            Duration::from_micros(sorted[rank - 1])
        };
        Some(Summary { p50: at(0.50), p90: at(0.90), p99: at(0.99), max: at(1.0) })
    }

    /// The median, for small sets of repeated measurements.
    pub fn median(&self) -> Option<Duration> {
        self.summary().map(|s| s.p50)
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::default();
        for us in 1..=100 {
            l.push_micros(us);
        }
        let s = l.summary().unwrap();
        assert_eq!((s.p50.as_micros(), s.p90.as_micros(), s.p99.as_micros(), s.max.as_micros()), (50, 90, 99, 100));
        let mut one = Latencies::default();
        one.push_micros(7);
        assert_eq!(one.summary().unwrap().p99.as_micros(), 7);
        assert!(Latencies::default().summary().is_none());
    }
}
