//! Resuming after K missed messages: a visitor reconnects with `after_seq = last - K` to
//! conversations with long histories; the replay's bytes and time should follow K, not the
//! history's length.

use crate::load;
use crate::report::Outcome;
use crate::scenarios::memory_rows;
use crate::stats::{ms, Latencies};
use crate::target::Target;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(target: Arc<Target>, histories: &[usize], missed: &[usize], repeats: usize) -> Outcome {
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
