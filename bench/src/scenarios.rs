//! The scenarios, each run the same way against the relay and the baseline: live
//! conversations at a steady rate, the same as fast as acks allow, many idle visitors, and
//! resuming after K missed messages.

use crate::load::{self, Pace, Plan};
use crate::report::Outcome;
use crate::rss::mib;
use crate::stats::{ms, Latencies};
use crate::target::Target;
use agent::Connection;
use protocol::{ClientFrame, ServerFrame};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many conversations open at once while setting up.
const OPEN_CONCURRENCY: usize = 16;

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
            Scenario::Idle { visitors, idle: quiet } => idle(target, *visitors, *quiet).await,
            Scenario::Resume { histories, missed, repeats } => resume(target, histories, missed, *repeats).await,
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

fn memory_rows(outcome: &mut Outcome, target: &Target) {
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

async fn idle(target: Arc<Target>, visitors: usize, quiet: Duration) -> Outcome {
    let mut outcome = Outcome::default();
    let before = target.memory.now_kib();
    let opened_at = Instant::now();
    let mut connections: Vec<Connection> = Vec::with_capacity(visitors);
    let mut failures: Vec<String> = Vec::new();
    // Opened in batches so a limit shows up as a count reached, not as thousands of errors.
    let batch = OPEN_CONCURRENCY * 8;
    let milestone = (visitors / 4).max(1);
    while connections.len() < visitors && failures.len() < 20 {
        let want = batch.min(visitors - connections.len());
        let mut tasks = tokio::task::JoinSet::new();
        let permits = Arc::new(tokio::sync::Semaphore::new(OPEN_CONCURRENCY));
        for _ in 0..want {
            let (target, permits) = (target.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore open");
                load::open_visitor(&target).await.map(|(_, connection)| connection)
            });
        }
        let had = connections.len();
        while let Some(done) = tasks.join_next().await {
            match done.expect("open task") {
                Ok(connection) => connections.push(connection),
                Err(e) => failures.push(e),
            }
        }
        if had / milestone != connections.len() / milestone {
            let n = connections.len() / milestone * milestone;
            outcome.note(format!("RSS with {n} visitors connected: {:.0} MiB", mib(target.memory.now_kib())));
        }
    }
    let open_time = opened_at.elapsed();
    let fds_at_stop = target.memory.parts_fds();
    let after_open = target.memory.now_kib();
    // Hibernation shows as RSS falling while nothing happens: note it every 10 s.
    let quiet_until = Instant::now() + quiet;
    let mut waited = Duration::ZERO;
    while Instant::now() < quiet_until {
        let step = Duration::from_secs(10).min(quiet_until - Instant::now());
        tokio::time::sleep(step).await;
        waited += step;
        if Instant::now() < quiet_until {
            outcome.note(format!("RSS after {} s idle: {:.0} MiB", waited.as_secs(), mib(target.memory.now_kib())));
        }
    }
    let after_idle = target.memory.now_kib();

    // Every socket is still there: a ping is answered (by the runtime, without waking the
    // conversation, on the relay).
    let mut alive = 0usize;
    for chunk in connections.chunks_mut(256) {
        let pings = chunk.iter_mut().map(|c| async move {
            c.send_text(ClientFrame::PING_TEXT).await.map_err(|e| e.to_string())?;
            match c.next().await {
                Ok(ServerFrame::Pong) => Ok(()),
                Ok(other) => Err(format!("expected pong, got {other:?}")),
                Err(e) => Err(e.to_string()),
            }
        });
        for result in futures_util::future::join_all(pings).await {
            match result {
                Ok(()) => alive += 1,
                Err(e) => failures.push(format!("ping: {e}")),
            }
        }
    }

    let n = connections.len();
    outcome.row("visitors connected", Some(n as f64));
    outcome.row("answered a ping after idling", Some(alive as f64));
    outcome.row("opening time s", Some(open_time.as_secs_f64()));
    outcome.row("RSS before MiB", Some(mib(before)));
    outcome.row("RSS all connected MiB", Some(mib(after_open)));
    outcome.row("RSS after idling MiB", Some(mib(after_idle)));
    outcome.row("RSS per visitor KiB (after idling)", (n > 0).then(|| after_idle.saturating_sub(before) as f64 / n as f64));
    // Where the memory goes: conversations without a socket, then sockets without a new
    // conversation (all on one).
    let parts = (visitors / 10).max(20);
    let before_parts = target.memory.now_kib();
    let mut started = Vec::new();
    for _ in 0..parts {
        match target.visitor().start(&Target::site()).await {
            Ok(s) => started.push(s),
            Err(e) => failures.push(format!("start: {e}")),
        }
    }
    let after_conversations = target.memory.now_kib();
    let mut extra = Vec::new();
    if let Some(one) = started.first() {
        for _ in 0..parts {
            match target.visitor().connect(&one.token, 0).await {
                Ok(mut c) => match load::catch_up(&mut c, 0).await {
                    Ok(_) => extra.push(c),
                    Err(e) => failures.push(e),
                },
                Err(e) => failures.push(format!("connect: {e}")),
            }
        }
    }
    let after_sockets = target.memory.now_kib();
    let per = |delta: u64, count: usize| (count > 0).then(|| delta as f64 / count as f64);
    outcome.row(
        format!("RSS per conversation without socket KiB ({parts})"),
        per(after_conversations.saturating_sub(before_parts), started.len()),
    );
    outcome.row(
        format!("RSS per extra socket on one conversation KiB ({parts})"),
        per(after_sockets.saturating_sub(after_conversations), extra.len()),
    );
    memory_rows(&mut outcome, &target);
    if n < visitors {
        let why = failures.first().cloned().unwrap_or_default();
        outcome.note(format!("reached {n} of {visitors} visitors; first failure: {why}"));
        let fds: Vec<String> = fds_at_stop.iter().map(|(part, n)| format!("{part} {n}")).collect();
        outcome.note(format!(
            "when opening stopped: server processes {}, open files {} (limit {})",
            fds_at_stop.len(),
            fds.join(", "),
            crate::fd_limit()
        ));
    }
    outcome.errors.extend(failures);
    // The sockets close when the target is gone (killed first, so closing 10,000 sockets does
    // not wake 10,000 objects): hand them to a task that outlives this scenario briefly.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop((connections, extra));
    });
    outcome
}

async fn resume(target: Arc<Target>, histories: &[usize], missed: &[usize], repeats: usize) -> Outcome {
    let mut outcome = Outcome::default();
    for &length in histories {
        let (started, mut writer) = match load::open_visitor(&target).await {
            Ok(opened) => opened,
            Err(e) => {
                outcome.errors.push(e);
                continue;
            }
        };
        let build_start = Instant::now();
        match load::post_many(&mut writer, length, 64, "h").await {
            Ok(seqs) if seqs.len() == length => {}
            Ok(seqs) => outcome.errors.push(format!("history of {length}: only {} acked", seqs.len())),
            Err(e) => outcome.errors.push(format!("history of {length}: {e}")),
        }
        outcome.note(format!("history of {length} messages written in {:.1} s", build_start.elapsed().as_secs_f64()));
        writer.close().await;
        let last = length as u64;
        for &k in missed.iter().filter(|&&k| k <= length) {
            let mut times = Latencies::default();
            let mut bytes = 0;
            for _ in 0..repeats {
                let t0 = Instant::now();
                let connected = target.visitor().connect(&started.token, last - k as u64).await;
                let mut connection = match connected {
                    Ok(c) => c,
                    Err(e) => {
                        outcome.errors.push(format!("resume connect: {e}"));
                        continue;
                    }
                };
                match load::catch_up(&mut connection, last - k as u64).await {
                    Ok(caught) => {
                        times.push(t0.elapsed());
                        bytes = caught.history_bytes;
                        let expected: Vec<u64> = (last - k as u64 + 1..=last).collect();
                        let got: Vec<u64> = caught.messages.iter().map(|m| m.seq).collect();
                        if got != expected {
                            let distinct: std::collections::HashSet<_> = got.iter().collect();
                            outcome.duplicated += (got.len() - distinct.len()) as u64;
                            outcome.lost += expected.iter().filter(|s| !distinct.contains(s)).count() as u64;
                        }
                    }
                    Err(e) => outcome.errors.push(format!("resume: {e}")),
                }
                connection.close().await;
            }
            outcome.row(format!("history {length}, K={k}: replay ms"), times.median().map(ms));
            outcome.row(format!("history {length}, K={k}: replay KiB"), Some(bytes as f64 / 1024.0));
        }
    }
    memory_rows(&mut outcome, &target);
    outcome
}
