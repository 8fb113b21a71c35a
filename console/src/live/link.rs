//! A live connection that stays up: it reconnects with backoff and jitter when it drops (at
//! once when the browser says it is back online), and pings every 30 s so that a connection
//! that died silently is noticed and replaced.

use crate::browser::now_ms;
use crate::socket::Socket;
use leptos::prelude::*;
use protocol::{ClientFrame, ServerFrame};
use std::time::Duration;

const KEEPALIVE: Duration = Duration::from_secs(30);
/// Back online, a connection that looks open has this long to answer a ping.
const PROBE: Duration = Duration::from_secs(5);
/// No frame (not even a pong) for this long: the connection is dead, whatever it says.
const SILENCE_LIMIT_MS: f64 = 75_000.0;
const BACKOFF_START_MS: f64 = 500.0;
const BACKOFF_MAX_MS: f64 = 30_000.0;

/// What a link connects to and who hears it. `Copy` handles (signals inside).
pub trait Endpoint: Copy + 'static {
    /// Where to connect now (a conversation asks for what follows the messages it holds).
    fn url(&self) -> String;
    fn opened(&self);
    fn frame(&self, frame: ServerFrame);
    /// The connection dropped; a new attempt is scheduled.
    fn lost(&self);
}

#[derive(Default)]
pub struct LinkState {
    socket: Option<Socket>,
    failures: u32,
    last_frame_ms: f64,
    stopped: bool,
    keepalive: Option<IntervalHandle>,
    back_online: Option<WindowListenerHandle>,
}

/// The socket and its bookkeeping; browser objects, so kept on this thread.
pub type Link = StoredValue<LinkState, LocalStorage>;

pub fn new_link() -> Link {
    StoredValue::new_local(LinkState::default())
}

/// Connects, and keeps reconnecting until [`stop`].
pub fn start<E: Endpoint>(link: Link, endpoint: E) {
    open(link, endpoint);
    let keepalive = set_interval_with_handle(move || keep_alive(link, endpoint), KEEPALIVE).ok();
    // Back online (out of the tunnel, onto another network): no need to wait out the backoff.
    // A connection that still looks open may have died with the old network: it has a few
    // seconds to answer a ping.
    let back_online = window_event_listener_untyped("online", move |_| {
        link.update_value(|l| l.failures = 0);
        open(link, endpoint);
        let pinged_at = now_ms();
        if link.try_with_value(|l| l.socket.as_ref().is_some_and(|s| s.send_text(ClientFrame::PING_TEXT))) == Some(true) {
            set_timeout(move || drop_if_silent_since(link, endpoint, pinged_at), PROBE);
        }
    });
    link.update_value(|l| {
        l.keepalive = keepalive;
        l.back_online = Some(back_online);
    });
}

/// Closes for good (the view that needed it is gone, or the agent signed out).
pub fn stop(link: Link) {
    let taken = link.try_update_value(|l| {
        l.stopped = true;
        (l.socket.take(), l.keepalive.take(), l.back_online.take())
    });
    if let Some((socket, keepalive, back_online)) = taken {
        socket.into_iter().for_each(Socket::shut);
        keepalive.into_iter().for_each(|handle| handle.clear());
        back_online.into_iter().for_each(WindowListenerHandle::remove);
    }
}

/// Sends a frame when connected; says whether it went out.
pub fn send(link: Link, frame: &ClientFrame) -> bool {
    link.try_with_value(|l| l.socket.as_ref().is_some_and(|s| s.send(frame))).unwrap_or(false)
}

fn open<E: Endpoint>(link: Link, endpoint: E) {
    // Stopped, or connected (or connecting) already: a retry that comes late opens nothing.
    if link.try_with_value(|l| l.stopped || l.socket.is_some()).unwrap_or(true) {
        return;
    }
    let on_frame = move |frame: ServerFrame| {
        link.update_value(|l| {
            l.failures = 0;
            l.last_frame_ms = now_ms();
        });
        endpoint.frame(frame);
    };
    match Socket::open(&endpoint.url(), move || endpoint.opened(), on_frame, move || dropped(link, endpoint)) {
        Some(socket) => link.update_value(|l| {
            l.socket = Some(socket);
            l.last_frame_ms = now_ms();
        }),
        None => dropped(link, endpoint),
    }
}

fn dropped<E: Endpoint>(link: Link, endpoint: E) {
    let failures = link.try_update_value(|l| {
        l.socket = None;
        l.failures += 1;
        (!l.stopped).then_some(l.failures)
    });
    let Some(Some(failures)) = failures else { return };
    endpoint.lost();
    // Exponential, capped, with jitter so that a relay restart is not met by every tab at once.
    let ceiling = (BACKOFF_START_MS * 2f64.powi(failures.min(16) as i32 - 1)).min(BACKOFF_MAX_MS);
    let delay = ceiling * (0.5 + js_sys::Math::random() / 2.0);
    set_timeout(move || open(link, endpoint), Duration::from_millis(delay as u64));
}

fn keep_alive<E: Endpoint>(link: Link, endpoint: E) {
    drop_if_silent_since(link, endpoint, now_ms() - SILENCE_LIMIT_MS);
    link.try_with_value(|l| l.socket.as_ref().map(|socket| socket.send_text(ClientFrame::PING_TEXT)));
}

/// A connection that has sent nothing since `since` (not even a pong) is dead. Dropped now,
/// not when the browser gives up on the closing handshake (a minute more on a dead link): the
/// console says it is offline, and the reconnect starts.
fn drop_if_silent_since<E: Endpoint>(link: Link, endpoint: E, since: f64) {
    let dead = link.try_update_value(|l| if l.socket.is_some() && l.last_frame_ms < since { l.socket.take() } else { None });
    if let Some(Some(socket)) = dead {
        socket.shut();
        dropped(link, endpoint);
    }
}
