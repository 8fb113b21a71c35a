//! The scenarios, each run the same way against the relay and the baseline: live
//! conversations at a steady rate, the same as fast as acks allow, many idle visitors, and
//! resuming after K missed messages.

use crate::load::{self, Pace, Plan};
use crate::report::Outcome;
use crate::rss::mib;
use crate::stats::{ms, Latencies};
use crate::target::Target;
use crate::{idle, resume};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A message every this often per side, or slower, is a chat's pace.
pub const CHAT_PACE: Duration = Duration::from_secs(10);

/// How many conversations open at once while setting up.
pub const OPEN_CONCURRENCY: usize = 16;

#[derive(Debug, Clone)]
pub enum Scenario {
    /// `conversations` live conversations, each side sending one message every `interval`.
    Live { conversations: usize, interval: Duration, duration: Duration },
    /// As many messages as the target acknowledges: each socket sends its next as soon as the
    /// previous is acked.
    Throughput { conversations: usize, duration: Duration },
    /// `visitors` visitors, each in its own conversation, connected and silent.
    Idle { visitors: usize, idle: Duration },
    /// Conversations with `histories` messages; reconnect `after_seq = last - K` for each K.
    Resume { histories: Vec<usize>, missed: Vec<usize>, repeats: usize },
}

impl Scenario {
    pub fn name(&self) -> String {
        match self {
            // At a chat's pace (people type a message every few seconds at most) the same
            // number of conversations is a scenario of its own.
            Scenario::Live { conversations, interval, .. } if *interval >= CHAT_PACE => format!("live-{conversations}-chat-pace"),
            Scenario::Live { conversations, .. } => format!("live-{conversations}"),
            Scenario::Throughput { conversations, .. } => format!("throughput-{conversations}"),
            Scenario::Idle { visitors, .. } => format!("idle-{visitors}"),
            Scenario::Resume { .. } => "resume".to_owned(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Scenario::Live { conversations, interval, duration } => format!(
                "{conversations} conversations (visitor + agent socket each); each side sends one message every {} ms \
                 ({:.0} msg/s offered) for {} s",
                interval.as_millis(),
                2.0 * *conversations as f64 / interval.as_secs_f64(),
                duration.as_secs()
            ),
            Scenario::Throughput { conversations, duration } => format!(
                "{conversations} conversations; each side sends its next message as soon as the previous is acked, for {} s",
                duration.as_secs()
            ),
            Scenario::Idle { visitors, idle } => format!(
                "{visitors} visitors, each in its own conversation, opened {OPEN_CONCURRENCY} at a time, then silent for {} s; \
                 then every socket pings",
                idle.as_secs()
            ),
            Scenario::Resume { histories, missed, repeats } => format!(
                "conversations with {histories:?} messages; a visitor reconnects with after_seq = last - K for K in {missed:?} \
                 (median of {repeats}); time = connect until caught up"
            ),
        }
    }

    /// Runs on `target`. With `dump`, live scenarios write every delivery's send instant and
    /// latency to that CSV file.
    pub async fn run(&self, target: Arc<Target>, dump: Option<PathBuf>) -> Outcome {
        match self {
            Scenario::Live { conversations, interval, duration } => {
                let plan = Plan { pace: Pace::Every(*interval), duration: *duration, drain: Duration::from_secs(10) };
                live(target, *conversations, plan, dump).await
            }
            Scenario::Throughput { conversations, duration } => {
                let plan = Plan { pace: Pace::AfterAck, duration: *duration, drain: Duration::from_secs(10) };
                live(target, *conversations, plan, dump).await
            }
            Scenario::Idle { visitors, idle } => idle::run(target, *visitors, *idle).await,
            Scenario::Resume { histories, missed, repeats } => resume::run(target, histories, missed, *repeats).await,
        }
    }
}

fn latency_rows(outcome: &mut Outcome, label: &str, latencies: &Latencies) {
    let summary = latencies.summary();
    for (name, pick) in [("p50", 0), ("p90", 1), ("p99", 2), ("max", 3)] {
        let value = summary.map(|s| ms([s.p50, s.p90, s.p99, s.max][pick]));
        outcome.row(format!("{label} {name} ms"), value);
    }
}

pub fn memory_rows(outcome: &mut Outcome, target: &Target) {
    outcome.row("peak RSS MiB (sampled)", Some(mib(target.memory.peak_kib())));
    outcome.row("peak RSS MiB (VmHWM)", Some(mib(target.memory.hwm_kib())));
    let parts: Vec<String> =
        target.memory.parts_kib().iter().map(|(part, kib)| format!("{part} {:.0} MiB", mib(*kib))).collect();
    outcome.note(format!("RSS at the end by process: {}", parts.join(", ")));
}

async fn live(target: Arc<Target>, conversations: usize, plan: Plan, dump: Option<PathBuf>) -> Outcome {
    let mut outcome = Outcome::default();
    let (pairs, errors) = load::open_pairs(&target, conversations, OPEN_CONCURRENCY).await;
    outcome.errors.extend(errors);
    let cpu_before = target.memory.parts_cpu();
    let driven = load::drive(pairs, plan).await;
    let cpu_after = target.memory.parts_cpu();
    outcome.row("conversations", Some(driven.conversations as f64));
    outcome.row("messages sent", Some(driven.sent as f64));
    outcome.row("delivered msg/s", Some(driven.delivered_per_sec()));
    latency_rows(&mut outcome, "visitor→agent", &driven.visitor_to_agent);
    latency_rows(&mut outcome, "agent→visitor", &driven.agent_to_visitor);
    let ack = driven.ack.summary();
    outcome.row("send→ack p50 ms", ack.map(|s| ms(s.p50)));
    outcome.row("send→ack p99 ms", ack.map(|s| ms(s.p99)));
    if let Pace::Every(_) = plan.pace {
        outcome.row("sender lag p99 ms", driven.send_lag.summary().map(|s| ms(s.p99)));
    }
    // What one message costs the server in CPU, per process (wrangler's proxy and the
    // runtime for the relay), over the whole run including the drain.
    let per_message = |cpu: Duration| (driven.delivered > 0).then(|| cpu.as_secs_f64() * 1e6 / driven.delivered as f64);
    let mut total = Duration::ZERO;
    for ((part, before), (_, after)) in cpu_before.iter().zip(&cpu_after) {
        total += after.saturating_sub(*before);
        outcome.row(format!("server CPU µs per message: {part}"), per_message(after.saturating_sub(*before)));
    }
    outcome.row("server CPU µs per message: total", per_message(total));
    if let Some(path) = dump {
        let mut csv = String::from("direction,sent_ms,latency_ms\n");
        for (v2a, at, latency) in &driven.timeline {
            let direction = if *v2a { "visitor_to_agent" } else { "agent_to_visitor" };
            csv.push_str(&format!("{direction},{:.3},{:.3}\n", *at as f64 / 1000.0, *latency as f64 / 1000.0));
        }
        if let Err(e) = std::fs::write(&path, csv) {
            outcome.note(format!("could not write {}: {e}", path.display()));
        }
    }
    memory_rows(&mut outcome, &target);
    outcome.lost = driven.lost;
    outcome.duplicated = driven.duplicated;
    outcome.errors.extend(driven.errors);
    outcome
}
