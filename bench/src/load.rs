//! Load generation, the same for every target: open conversations through the `agent`
//! crate's `Visitor` and `Agent`, drive each conversation's visitor and agent sockets at a
//! pace, and check that every acknowledged message reaches the other side exactly once.
//!
//! Each message body carries its send instant (microseconds since [`stats::epoch`]); the
//! receiver subtracts it from its own clock, so delivery latency needs no matching table.

use crate::stats::{self, Latencies};
use crate::target::Target;
use agent::{Connection, ConnectionError};
use protocol::http::ConversationStarted;
use protocol::{Author, ClientFrame, ClientMsgId, Message, Seq, ServerFrame};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::sleep_until;

/// Words after the timestamp, so a body has a chat message's size (about 60 bytes).
const FILLER: &str = "hello, is my order on its way yet?";

/// What a (re)connection read before it was caught up.
pub struct CaughtUp {
    pub messages: Vec<Message>,
    pub history_frames: usize,
    /// Size of the `history` frames as sent (the protocol's own encoding of what arrived).
    pub history_bytes: usize,
}

/// Reads `welcome` and the replay after `after_seq` up to the conversation's last seq.
pub async fn catch_up(connection: &mut Connection, after_seq: Seq) -> Result<CaughtUp, String> {
    let last_seq = match connection.next().await.map_err(|e| e.to_string())? {
        ServerFrame::Welcome { last_seq, .. } => last_seq,
        other => return Err(format!("expected welcome, got {other:?}")),
    };
    let mut caught = CaughtUp { messages: Vec::new(), history_frames: 0, history_bytes: 0 };
    while caught.messages.last().map_or(after_seq, |m| m.seq) < last_seq {
        match connection.next().await.map_err(|e| e.to_string())? {
            frame @ ServerFrame::History { .. } => {
                caught.history_bytes += frame.encode().len();
                caught.history_frames += 1;
                let ServerFrame::History { messages } = frame else { unreachable!() };
                caught.messages.extend(messages);
            }
            ServerFrame::Error { code, message, .. } => return Err(format!("error frame {code:?}: {message}")),
            // Status, read marks, typing and the like may come at any time; not counted here.
            _ => {}
        }
    }
    Ok(caught)
}

/// A conversation with its visitor and agent sockets, both caught up.
pub struct Live {
    pub visitor: Connection,
    pub agent: Connection,
}

/// Starts a conversation as a visitor would (HTTP), returns the visitor's socket caught up.
pub async fn open_visitor(target: &Target) -> Result<(ConversationStarted, Connection), String> {
    let visitor = target.visitor();
    let started = visitor.start(&Target::site()).await.map_err(|e| format!("start: {e}"))?;
    let mut connection = visitor.connect(&started.token, 0).await.map_err(|e| format!("visitor connect: {e}"))?;
    catch_up(&mut connection, 0).await?;
    Ok((started, connection))
}

async fn open_pair(target: &Target) -> Result<Live, String> {
    let (started, visitor) = open_visitor(target).await?;
    let mut agent = target.agent().await.join(&started.conversation_id, 0).await.map_err(|e| format!("agent join: {e}"))?;
    catch_up(&mut agent, 0).await?;
    Ok(Live { visitor, agent })
}

/// Opens `n` conversations, `concurrency` at a time. Returns what opened and the errors.
pub async fn open_pairs(target: &Arc<Target>, n: usize, concurrency: usize) -> (Vec<Live>, Vec<String>) {
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for _ in 0..n {
        let (target, permits) = (target.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            open_pair(&target).await
        });
    }
    let (mut pairs, mut errors) = (Vec::new(), Vec::new());
    while let Some(done) = tasks.join_next().await {
        match done.expect("open task") {
            Ok(pair) => pairs.push(pair),
            Err(e) => errors.push(e),
        }
    }
    (pairs, errors)
}

/// How often a socket sends.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Open loop: one message every interval, whatever the answers.
    Every(Duration),
    /// Closed loop: the next message as soon as the previous one is acknowledged.
    AfterAck,
}

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub pace: Pace,
    /// How long sockets send.
    pub duration: Duration,
    /// How long after that to wait for the last acks and deliveries.
    pub drain: Duration,
}

/// Per conversation, per side (0 visitor, 1 agent): what both sides need to know to stop.
#[derive(Default)]
struct PairState {
    acked: [AtomicU64; 2],
    received: [AtomicU64; 2],
    settled: [AtomicBool; 2],
}

/// What one socket saw.
#[derive(Default)]
struct SideLog {
    acked: Vec<Seq>,
    received: Vec<Seq>,
    delivery: Latencies,
    /// (send instant, latency) of each delivery, microseconds, for `--dump`.
    timeline: Vec<(u64, u64)>,
    ack: Latencies,
    send_lag: Latencies,
    sent: u64,
    errors: Vec<String>,
}

/// The outcome of driving a set of conversations.
#[derive(Default)]
pub struct Driven {
    pub conversations: usize,
    pub sent: u64,
    pub delivered: u64,
    pub duration: Duration,
    pub visitor_to_agent: Latencies,
    pub agent_to_visitor: Latencies,
    /// Every delivery: (visitor→agent?, send instant µs since the epoch, latency µs).
    pub timeline: Vec<(bool, u64, u64)>,
    pub ack: Latencies,
    /// How late open-loop sends left against their schedule (the load generator's own lag).
    pub send_lag: Latencies,
    pub lost: u64,
    pub duplicated: u64,
    pub errors: Vec<String>,
}

impl Driven {
    pub fn delivered_per_sec(&self) -> f64 {
        self.delivered as f64 / self.duration.as_secs_f64()
    }
}

/// Drives every conversation at `plan`'s pace, then checks the deliveries. Open-loop sends are
/// spread evenly over the interval across conversations, the agent half an interval after
/// its visitor, so the load is steady rather than in bursts.
pub async fn drive(pairs: Vec<Live>, plan: Plan) -> Driven {
    let n = pairs.len();
    let start = Instant::now() + Duration::from_millis(100);
    let stop_at = start + plan.duration;
    let give_up_at = stop_at + plan.drain;
    let mut tasks = JoinSet::new();
    for (i, pair) in pairs.into_iter().enumerate() {
        let state = Arc::new(PairState::default());
        let offset = match plan.pace {
            Pace::Every(interval) => interval.mul_f64(i as f64 / n as f64),
            Pace::AfterAck => Duration::ZERO,
        };
        let half = match plan.pace {
            Pace::Every(interval) => interval / 2,
            Pace::AfterAck => Duration::ZERO,
        };
        let times = Times { first_send: start + offset, stop_at, give_up_at };
        tasks.spawn(side(pair.visitor, 0, state.clone(), plan.pace, times).map_pair(i, 0));
        let times = Times { first_send: start + offset + half, ..times };
        tasks.spawn(side(pair.agent, 1, state, plan.pace, times).map_pair(i, 1));
    }
    let mut logs: Vec<[Option<SideLog>; 2]> = (0..n).map(|_| [None, None]).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, who, log) = done.expect("side task");
        logs[i][who] = Some(log);
    }

    let mut driven = Driven { conversations: n, duration: plan.duration, ..Driven::default() };
    for [visitor, agent] in logs {
        let (mut visitor, mut agent) = (visitor.expect("visitor log"), agent.expect("agent log"));
        for (sender, receiver) in [(&visitor, &agent), (&agent, &visitor)] {
            let mut counts: HashMap<Seq, u64> = sender.acked.iter().map(|&s| (s, 0)).collect();
            for seq in &receiver.received {
                match counts.get_mut(seq) {
                    Some(count) => *count += 1,
                    None => driven.errors.push(format!("seq {seq} arrived but its sender never had an ack")),
                }
            }
            driven.lost += counts.values().filter(|&&c| c == 0).count() as u64;
            driven.duplicated += counts.values().map(|&c| c.saturating_sub(1)).sum::<u64>();
            driven.delivered += counts.values().filter(|&&c| c > 0).count() as u64;
        }
        driven.timeline.extend(agent.timeline.iter().map(|&(at, l)| (true, at, l)));
        driven.timeline.extend(visitor.timeline.iter().map(|&(at, l)| (false, at, l)));
        driven.visitor_to_agent.extend(std::mem::take(&mut agent.delivery));
        driven.agent_to_visitor.extend(std::mem::take(&mut visitor.delivery));
        for log in [visitor, agent] {
            driven.sent += log.sent;
            driven.ack.extend(log.ack);
            driven.send_lag.extend(log.send_lag);
            driven.errors.extend(log.errors);
        }
    }
    driven
}

#[derive(Clone, Copy)]
struct Times {
    first_send: Instant,
    stop_at: Instant,
    give_up_at: Instant,
}

trait MapPair: std::future::Future<Output = SideLog> + Sized {
    fn map_pair(self, i: usize, who: usize) -> impl std::future::Future<Output = (usize, usize, SideLog)> {
        async move { (i, who, self.await) }
    }
}
impl<F: std::future::Future<Output = SideLog>> MapPair for F {}

/// A plain text message, as a visitor or an agent types it.
fn send_frame(client_id: ClientMsgId, body: String) -> ClientFrame {
    ClientFrame::Send { client_id, body, card: None, suggestions: Vec::new() }
}

fn body(sent_micros: u64) -> String {
    format!("t{sent_micros} {FILLER}")
}

fn sent_micros(body: &str) -> Option<u64> {
    body.strip_prefix('t')?.split(' ').next()?.parse().ok()
}

/// One socket: sends at its pace until `stop_at`, records acks and the other side's
/// messages, then stays until both sides have every ack and every delivery (or gives up).
async fn side(mut connection: Connection, me: usize, state: Arc<PairState>, pace: Pace, times: Times) -> SideLog {
    let other = 1 - me;
    let prefix = if me == 0 { "v" } else { "a" };
    let mut log = SideLog::default();
    let mut pending: HashMap<ClientMsgId, u64> = HashMap::new();
    let mut next_send = times.first_send;
    let poll = Duration::from_millis(20);
    loop {
        let now = Instant::now();
        let sending = now < times.stop_at;
        if !sending {
            if pending.is_empty() {
                state.settled[me].store(true, Ordering::SeqCst);
            }
            let done = state.settled[me].load(Ordering::SeqCst)
                && state.settled[other].load(Ordering::SeqCst)
                && state.received[me].load(Ordering::SeqCst) >= state.acked[other].load(Ordering::SeqCst);
            if done {
                break;
            }
            if now >= times.give_up_at {
                if !pending.is_empty() {
                    log.errors.push(format!("{} sends never acknowledged", pending.len()));
                }
                break;
            }
        }
        let due = match pace {
            Pace::Every(_) => sending && now >= next_send,
            Pace::AfterAck => sending && now >= next_send && pending.is_empty(),
        };
        if due {
            let sent_at = stats::now_micros();
            if let Pace::Every(interval) = pace {
                log.send_lag.push(now - next_send);
                next_send += interval;
            }
            let client_id = ClientMsgId::parse(&format!("{prefix}{}", log.sent)).expect("valid client id");
            let frame = send_frame(client_id.clone(), body(sent_at));
            if let Err(e) = connection.send_frame(&frame).await {
                log.errors.push(format!("send: {e}"));
                break;
            }
            pending.insert(client_id, sent_at);
            log.sent += 1;
            continue;
        }
        let wake = match pace {
            Pace::Every(_) if sending => next_send.min(times.stop_at),
            Pace::AfterAck if sending && pending.is_empty() => next_send.min(times.stop_at),
            _ if sending => times.stop_at.min(now + Duration::from_secs(1)),
            _ => now + poll,
        };
        tokio::select! {
            frame = connection.next() => match frame {
                Ok(frame) => on_frame(frame, me, &state, &mut pending, &mut log),
                Err(ConnectionError::Timeout) => {}
                Err(e) => {
                    log.errors.push(format!("socket: {e}"));
                    break;
                }
            },
            _ = sleep_until(wake.into()) => {}
        }
    }
    connection.close().await;
    log
}

fn on_frame(frame: ServerFrame, me: usize, state: &PairState, pending: &mut HashMap<ClientMsgId, u64>, log: &mut SideLog) {
    match frame {
        ServerFrame::Ack { client_id, seq, .. } => match pending.remove(&client_id) {
            Some(sent_at) => {
                log.ack.push_micros(stats::now_micros().saturating_sub(sent_at));
                log.acked.push(seq);
                state.acked[me].fetch_add(1, Ordering::SeqCst);
            }
            None => log.errors.push(format!("ack for {client_id}, which is not waiting for one")),
        },
        ServerFrame::Message { message } => {
            let from_other = matches!((&message.author, me), (Author::Visitor, 1) | (Author::Agent { .. }, 0));
            if !from_other {
                log.errors.push(format!("seq {} came back to its own sender", message.seq));
                return;
            }
            match sent_micros(&message.body) {
                Some(sent_at) => {
                    let latency = stats::now_micros().saturating_sub(sent_at);
                    log.delivery.push_micros(latency);
                    log.timeline.push((sent_at, latency));
                }
                None => log.errors.push(format!("seq {} has no timestamp", message.seq)),
            }
            log.received.push(message.seq);
            state.received[me].fetch_add(1, Ordering::SeqCst);
        }
        ServerFrame::Error { code, message, .. } => log.errors.push(format!("error frame {code:?}: {message}")),
        ServerFrame::Welcome { .. } | ServerFrame::History { .. } => log.errors.push("a second welcome or history".into()),
        // Read marks, typing, status: the relay's own frames, not messages.
        _ => {}
    }
}

/// Posts `count` messages on one socket, up to `window` unacknowledged at a time; returns
/// their seqs in ack order.
pub async fn post_many(connection: &mut Connection, count: usize, window: usize, prefix: &str) -> Result<Vec<Seq>, String> {
    let mut seqs = Vec::with_capacity(count);
    let mut sent = 0;
    while seqs.len() < count {
        while sent < count && sent - seqs.len() < window {
            let client_id = ClientMsgId::parse(&format!("{prefix}{sent}")).expect("valid client id");
            let frame = send_frame(client_id, body(stats::now_micros()));
            connection.send_frame(&frame).await.map_err(|e| e.to_string())?;
            sent += 1;
        }
        match connection.next().await.map_err(|e| e.to_string())? {
            ServerFrame::Ack { seq, .. } => seqs.push(seq),
            ServerFrame::Error { code, message, .. } => return Err(format!("error frame {code:?}: {message}")),
            _ => {}
        }
    }
    Ok(seqs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_their_send_instant() {
        let b = body(123_456);
        assert_eq!(sent_micros(&b), Some(123_456));
        assert!(protocol::frames::validate_body(&b).is_ok());
        assert_eq!(sent_micros("hello"), None);
    }
}
