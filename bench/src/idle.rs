//! Many idle visitors, each in its own conversation: how much memory the server holds for
//! them, whether they stay connected (a ping after idling), and where the memory goes
//! (conversations without sockets, sockets without new conversations).

use crate::load;
use crate::report::Outcome;
use crate::rss::mib;
use crate::scenarios::{memory_rows, OPEN_CONCURRENCY};
use crate::target::Target;
use agent::Connection;
use protocol::{ClientFrame, ServerFrame};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(target: Arc<Target>, visitors: usize, quiet: Duration) -> Outcome {
    let mut outcome = Outcome::default();
    let before = target.memory.now_kib();
    let opened_at = Instant::now();
    let mut connections: Vec<Connection> = Vec::with_capacity(visitors);
    let mut failures: Vec<String> = Vec::new();
    // Opened in batches so a limit shows up as a count reached, not as thousands of errors.
    let batch = OPEN_CONCURRENCY * 8;
    let milestone = (visitors / 4).max(1);
    let mut fds_before_failure = target.memory.parts_fds();
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
        // Open files of each server process after the last batch that went through: where a
        // limit is near when opening fails.
        if failures.is_empty() {
            fds_before_failure = target.memory.parts_fds();
        }
        if had / milestone != connections.len() / milestone {
            let n = connections.len() / milestone * milestone;
            outcome.note(format!("RSS with {n} visitors connected: {:.0} MiB", mib(target.memory.now_kib())));
        }
    }
    let open_time = opened_at.elapsed();
    let fds_at_stop = target.memory.parts_fds();
    let processes_before = fds_before_failure.len();
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
        let show = |fds: &[(&str, usize)]| fds.iter().map(|(part, n)| format!("{part} {n}")).collect::<Vec<_>>().join(", ");
        outcome.note(format!(
            "open files per server process after the last batch that opened cleanly: {} (limit {}); \
             when opening stopped: {} of {processes_before} processes left, {}",
            show(&fds_before_failure),
            crate::fd_limit(),
            fds_at_stop.len(),
            show(&fds_at_stop),
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
