//! The widget's one connection to its conversation.
//!
//! - No session yet: the first message starts a conversation (`POST`), saves the session and
//!   connects.
//! - Every (re)connect asks for the messages after the last seq the thread holds, and on
//!   `welcome` resends every message still waiting for its ack, with its original client id:
//!   the relay stores each client id once, so nothing is lost and nothing is doubled.
//! - A dropped connection is retried with exponential backoff and jitter.

use crate::config::WidgetConfig;
use crate::session::{self, Session};
use crate::thread::Thread;
use leptos::prelude::*;
use protocol::http::{start_conversation_path, visitor_connect_path, ConversationStarted, ErrorBody};
use protocol::{ClientFrame, ClientMsgId, ErrorCode, ServerFrame};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What the visitor can see of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// No conversation yet; one starts with the first message.
    Idle,
    Connecting,
    Connected,
    /// Lost; a retry is scheduled.
    Reconnecting,
}

const BACKOFF_START_MS: f64 = 500.0;
const BACKOFF_MAX_MS: f64 = 30_000.0;

struct Socket {
    ws: WebSocket,
    // Kept alive as long as the socket they serve.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

struct Inner {
    config: WidgetConfig,
    session: Option<Session>,
    socket: Option<Socket>,
    /// True between `welcome` and close: sends go straight out.
    welcomed: bool,
    starting: bool,
    failed_attempts: u32,
}

/// A handle on the connection; `Copy`, so every component and callback can hold one.
#[derive(Clone, Copy)]
pub struct Link {
    inner: StoredValue<Inner, LocalStorage>,
    pub thread: RwSignal<Thread>,
    pub status: RwSignal<LinkStatus>,
}

impl Link {
    pub fn new(config: WidgetConfig) -> Self {
        let session = session::load(&config.site);
        let status = if session.is_some() { LinkStatus::Connecting } else { LinkStatus::Idle };
        let has_session = session.is_some();
        let link = Link {
            inner: StoredValue::new_local(Inner { config, session, socket: None, welcomed: false, starting: false, failed_attempts: 0 }),
            thread: RwSignal::new(Thread::default()),
            status: RwSignal::new(status),
        };
        if has_session {
            link.connect();
        }
        link
    }

    /// The visitor wrote a message.
    pub fn send(&self, body: String) {
        let client_id = new_client_id();
        self.thread.update(|t| t.push_own(client_id.clone(), body.clone()));
        self.transmit(client_id, body);
    }

    pub fn retry(&self, client_id: &ClientMsgId) {
        if let Some(body) = self.thread.try_update(|t| t.retry(client_id)).flatten() {
            self.transmit(client_id.clone(), body);
        }
    }

    fn transmit(&self, client_id: ClientMsgId, body: String) {
        if self.inner.with_value(|i| i.session.is_none()) {
            self.start_conversation();
            return;
        }
        // Without a welcomed socket it waits in the thread as unacked and goes out on the
        // next welcome.
        self.inner.with_value(|inner| {
            if let (true, Some(socket)) = (inner.welcomed, &inner.socket) {
                let _ = socket.ws.send_with_str(&ClientFrame::Send { client_id, body }.encode());
            }
        });
    }

    fn start_conversation(&self) {
        let already = self.inner.try_update_value(|i| std::mem::replace(&mut i.starting, true)).unwrap_or(true);
        if already {
            return;
        }
        self.status.set(LinkStatus::Connecting);
        let link = *self;
        leptos::task::spawn_local(async move {
            let config = link.inner.with_value(|i| i.config.clone());
            let result = post_start(&config).await;
            link.inner.update_value(|i| i.starting = false);
            match result {
                Ok(started) => {
                    let session = Session::from(started);
                    session::save(&config.site, &session);
                    link.inner.update_value(|i| i.session = Some(session));
                    link.connect();
                }
                Err(why) => {
                    // Nothing was created; the messages stay failed and can be retried.
                    let pending = link.thread.with_untracked(|t| t.unacked());
                    link.thread.update(|t| pending.iter().for_each(|(id, _)| t.fail(id, why.clone())));
                    link.status.set(LinkStatus::Idle);
                }
            }
        });
    }

    fn connect(&self) {
        let after = self.thread.with_untracked(Thread::last_seq);
        let prepared = self.inner.try_update_value(|inner| {
            let session = inner.session.clone()?;
            inner.welcomed = false;
            let url = format!("{}{}", inner.config.socket_origin(), visitor_connect_path(&session.token, after));
            Some((url, inner.socket.take()))
        });
        let Some(Some((url, old))) = prepared else { return };
        if let Some(old) = old {
            old.ws.set_onclose(None);
            let _ = old.ws.close();
        }
        let Ok(ws) = WebSocket::new(&url) else {
            self.schedule_reconnect();
            return;
        };
        self.status.set(LinkStatus::Connecting);

        let link = *self;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                if let Ok(frame) = ServerFrame::decode(&text) {
                    link.on_frame(frame);
                }
            }
        });
        let this_socket = ws.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
            link.on_close(&this_socket);
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.inner.update_value(|i| i.socket = Some(Socket { ws, _on_message: on_message, _on_close: on_close }));
    }

    fn on_frame(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome { .. } => {
                self.inner.update_value(|inner| {
                    inner.welcomed = true;
                    inner.failed_attempts = 0;
                });
                self.status.set(LinkStatus::Connected);
                // The outbox: everything not yet acknowledged goes out again, same client ids.
                for (client_id, body) in self.thread.with_untracked(Thread::unacked) {
                    self.transmit(client_id, body);
                }
            }
            ServerFrame::History { messages } => self.thread.update(|t| messages.into_iter().for_each(|m| t.receive(m))),
            ServerFrame::Message { message } => self.thread.update(|t| t.receive(message)),
            ServerFrame::Ack { client_id, seq, .. } => self.thread.update(|t| t.ack(&client_id, seq)),
            ServerFrame::Error { code, message, client_id } => {
                if let Some(client_id) = client_id {
                    self.thread.update(|t| t.fail(&client_id, message));
                } else if matches!(code, ErrorCode::InvalidToken | ErrorCode::UnknownConversation) {
                    // The saved conversation cannot be opened any more: start afresh with the
                    // next message rather than retrying forever.
                    let site = self.inner.try_update_value(|inner| {
                        inner.session = None;
                        inner.config.site.clone()
                    });
                    if let Some(site) = site {
                        session::forget(&site);
                    }
                    self.thread.set(Thread::default());
                    self.status.set(LinkStatus::Idle);
                }
            }
            ServerFrame::Pong => {}
        }
    }

    fn on_close(&self, socket: &WebSocket) {
        let current = self.inner.try_update_value(|inner| {
            let is_current = inner.socket.as_ref().is_some_and(|s| &s.ws == socket);
            if is_current {
                inner.welcomed = false;
                inner.socket = None;
            }
            is_current && inner.session.is_some()
        });
        if current == Some(true) {
            self.schedule_reconnect();
        }
    }

    fn schedule_reconnect(&self) {
        let attempt = self
            .inner
            .try_update_value(|inner| {
                inner.failed_attempts += 1;
                inner.failed_attempts
            })
            .unwrap_or(1);
        self.status.set(LinkStatus::Reconnecting);
        let ceiling = (BACKOFF_START_MS * 2f64.powi(attempt.min(16) as i32 - 1)).min(BACKOFF_MAX_MS);
        // Full jitter between half and all of the ceiling, so many widgets do not return at once.
        let delay = ceiling * (0.5 + js_sys::Math::random() / 2.0);
        let link = *self;
        set_timeout(move || link.connect(), std::time::Duration::from_millis(delay as u64));
    }
}

fn new_client_id() -> ClientMsgId {
    let uuid = web_sys::window().and_then(|w| w.crypto().ok()).map(|c| c.random_uuid());
    let raw = uuid.unwrap_or_else(|| format!("{}-{}", js_sys::Date::now() as u64, (js_sys::Math::random() * 1e12) as u64));
    ClientMsgId::parse(&raw).expect("uuids are valid client ids")
}

async fn post_start(config: &WidgetConfig) -> Result<ConversationStarted, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let url = format!("{}{}", config.relay, start_conversation_path(&config.site));
    let failed = |_| "Could not reach the chat. Check your connection and try again.".to_owned();
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(&url, &init))
        .await
        .map_err(failed)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(failed)?).await.map_err(failed)?.as_string().unwrap_or_default();
    if response.ok() {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        Err(serde_json::from_str::<ErrorBody>(&text).map(|b| b.error.message).unwrap_or_else(|_| text))
    }
}
