//! The widget's state, as signals the components read, and its one connection to the
//! conversation.
//!
//! - No session yet: the first message starts a conversation (with the contact the visitor
//!   already gave), saves the session and connects.
//! - Every (re)connect asks for the messages after the last seq held; on `welcome` every
//!   message still waiting for its ack goes out again with its original client id. The relay
//!   stores each client id once: nothing is lost, nothing is doubled. Unacknowledged messages
//!   live in localStorage (the outbox), so this holds across reloads too.
//! - A dropped connection is retried with exponential backoff and jitter, at once when the
//!   browser says it is back online; a keep-alive notices connections that died silently.
//! - While the panel is open, a second, light connection to the site keeps availability live;
//!   it is kept alive and retried like the conversation's.
//! - `shutdown` starts a new epoch: work begun for the previous visitor (a start on its way,
//!   the earlier conversation's replay) finds the epoch changed and is dropped.

use crate::api;
use crate::attention;
use crate::config::WidgetConfig;
use crate::i18n::Strings;
use crate::reactive::effect;
use crate::session::{self, Outgoing, Session, Slot};
use crate::socket::{ws_origin, Socket};
use crate::thread::{Entry, Thread};
use leptos::prelude::*;
use protocol::http::{availability_path, verified_connect_path, visitor_connect_path};
use protocol::json_tree::ToJson;
use protocol::site::WidgetSettings;
use protocol::{
    Author, ClientFrame, ClientMsgId, Contact, ConversationId, ErrorCode, Identity, ReadMarks, Seq, ServerFrame, Status,
};
use std::time::Duration;
use wasm_bindgen::JsValue;

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

/// The conversation's state besides its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationView {
    pub status: Status,
    pub read: ReadMarks,
    /// The agent who is typing right now.
    pub agent_typing: Option<String>,
}

impl Default for ConversationView {
    fn default() -> Self {
        Self { status: Status::Open, read: ReadMarks::default(), agent_typing: None }
    }
}

const BACKOFF_START_MS: f64 = 500.0;
const BACKOFF_MAX_MS: f64 = 30_000.0;
const KEEPALIVE: Duration = Duration::from_secs(25);
/// Sent "typing" again at most this often while the visitor keeps typing.
const TYPING_REFRESH_MS: f64 = 3_000.0;
/// "Typing" ends by itself after this long without a keystroke (or an agent's refresh).
const TYPING_IDLE: Duration = Duration::from_secs(5);
const AGENT_TYPING_TIMEOUT: Duration = Duration::from_secs(8);

struct Inner {
    config: WidgetConfig,
    /// Which visitor this browser is for: `shutdown` moves it on.
    epoch: u32,
    session: Option<Session>,
    socket: Option<Socket>,
    availability: Option<Socket>,
    availability_heard_ms: f64,
    availability_failures: u32,
    welcomed: bool,
    /// The session came from an email link and is not confirmed yet: it is saved once the
    /// relay welcomes it, and the previous one stays in storage until then.
    resuming: bool,
    starting: bool,
    /// The last start could not reach the relay: back online, it is tried again.
    start_unreached: bool,
    failed_attempts: u32,
    reconnect_pending: bool,
    last_frame_ms: f64,
    typing_sent_ms: f64,
    typing_generation: u32,
    agent_typing_generation: u32,
    listeners: Vec<(String, js_sys::Function)>,
    /// The site's signed-in user from `identify` (kept in memory only: the site identifies
    /// on every page load, and the hash is a credential).
    identity: Option<Identity>,
    /// The visitor changed their contact details while the relay could not hear it: on the
    /// next welcome ours replace the relay's.
    contact_unsent: bool,
    /// The welcome found the conversation ended while messages waited in the outbox: once
    /// the replay reaches this seq they start the next conversation.
    carry_after: Option<Seq>,
    /// The last seq held when this connection opened: its replay is news only after it.
    replay_from: Seq,
}

/// The widget's state. It lives as long as the page: every component and callback holds a
/// `&'static Chat` (a pointer to capture, not fifteen signal handles).
pub struct Chat {
    inner: StoredValue<Inner, LocalStorage>,
    pub strings: &'static Strings,
    pub settings: RwSignal<WidgetSettings>,
    /// The site's settings have arrived.
    pub ready: RwSignal<bool>,
    pub agents_online: RwSignal<bool>,
    pub open: RwSignal<bool>,
    pub thread: RwSignal<Thread>,
    /// The conversation before this one, when an agent ended it: still readable.
    pub earlier: RwSignal<Vec<Entry>>,
    pub view: RwSignal<ConversationView>,
    /// What the visitor told us about themselves (persisted per site).
    pub contact: RwSignal<Contact>,
    /// The visitor chose not to give an email for now.
    pub email_skipped: RwSignal<bool>,
    pub link: RwSignal<LinkStatus>,
    pub page_visible: RwSignal<bool>,
    /// The latest incoming message, for screen readers.
    pub announcement: RwSignal<String>,
    /// An email link was opened that no longer opens its conversation.
    pub link_expired: RwSignal<bool>,
    /// The visitor's data was just deleted (at their request).
    pub deleted: RwSignal<bool>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn new_client_id() -> ClientMsgId {
    let uuid = web_sys::window().and_then(|w| w.crypto().ok()).map(|c| c.random_uuid());
    let raw = uuid.unwrap_or_else(|| format!("{}-{}", now_ms() as u64, (js_sys::Math::random() * 1e12) as u64));
    ClientMsgId::parse(&raw).expect("uuids are valid client ids")
}

/// The wait before the `attempt`th retry (from 1): doubling from half a second up to 30 s,
/// with jitter between half and all of it, so many widgets do not come back at once.
fn backoff(attempt: u32) -> Duration {
    let ceiling = (BACKOFF_START_MS * 2f64.powi(attempt.clamp(1, 17) as i32 - 1)).min(BACKOFF_MAX_MS);
    Duration::from_millis((ceiling * (0.5 + js_sys::Math::random() / 2.0)) as u64)
}

/// Silent this long (two pings and more), a connection is dead even if the browser has not
/// noticed.
const SILENT_MS: f64 = 2.0 * KEEPALIVE.as_millis() as f64 + 5_000.0;
/// How long a probed connection has to answer its ping.
const PROBE_WAIT: Duration = Duration::from_secs(5);

fn page_hidden() -> bool {
    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden())
}

impl Chat {
    pub fn new(config: WidgetConfig, strings: &'static Strings) -> &'static Chat {
        let site = config.site.clone();
        if config.consent_required && !config.open {
            session::require_consent();
        }
        let stored: Option<Session> = session::load(&site, Slot::Session);
        let linked = config.resume.as_ref().and_then(|token| {
            // Another site's link (or a forged one) is not this chat's to open.
            if token.split('.').nth(1)? != site.as_str() {
                return None;
            }
            let conversation_id = ConversationId::parse(token.split('.').nth(2)?).ok()?;
            Some(Session { conversation_id, token: token.clone() })
        });
        if linked.is_some() {
            forget_link_in_address();
        }
        let resuming = linked.as_ref().is_some_and(|l| stored.as_ref().map(|s| &s.conversation_id) != Some(&l.conversation_id));
        let session = if resuming { linked } else { stored };
        let mut thread = Thread::default();
        if !resuming {
            for outgoing in session::load_outbox(&site) {
                thread.push_own(outgoing.client_id, outgoing.body);
            }
        }
        let has_session = session.is_some();
        let chat: &'static Chat = Box::leak(Box::new(Chat {
            inner: StoredValue::new_local(Inner {
                config: config.clone(),
                epoch: 0,
                session,
                socket: None,
                availability: None,
                availability_heard_ms: 0.0,
                availability_failures: 0,
                welcomed: false,
                resuming,
                starting: false,
                start_unreached: false,
                failed_attempts: 0,
                reconnect_pending: false,
                last_frame_ms: now_ms(),
                typing_sent_ms: 0.0,
                typing_generation: 0,
                agent_typing_generation: 0,
                listeners: Vec::new(),
                identity: None,
                contact_unsent: false,
                carry_after: None,
                replay_from: 0,
            }),
            strings,
            settings: RwSignal::new(WidgetSettings::default()),
            ready: RwSignal::new(false),
            agents_online: RwSignal::new(false),
            open: RwSignal::new(config.open),
            thread: RwSignal::new(thread),
            earlier: RwSignal::new(Vec::new()),
            view: RwSignal::new(ConversationView::default()),
            contact: RwSignal::new(session::load_contact(&site)),
            email_skipped: RwSignal::new(false),
            link: RwSignal::new(if has_session { LinkStatus::Connecting } else { LinkStatus::Idle }),
            page_visible: RwSignal::new(!page_hidden()),
            announcement: RwSignal::new(String::new()),
            link_expired: RwSignal::new(false),
            deleted: RwSignal::new(false),
        }));
        chat.load_site(0);
        chat.load_earlier();
        if has_session {
            chat.connect();
        } else if chat.thread.with_untracked(|t| !t.unacked().is_empty()) {
            // Written before the conversation could be started (offline), then reloaded.
            chat.start_conversation();
        }
        chat.watch();
        chat
    }

    fn epoch(&'static self) -> u32 {
        self.inner.with_value(|i| i.epoch)
    }

    fn config(&'static self) -> WidgetConfig {
        self.inner.with_value(|i| i.config.clone())
    }

    pub fn has_session(&'static self) -> bool {
        self.inner.with_value(|i| i.session.is_some())
    }

    /// The site's settings and who is online. Until they come (a flaky network), the widget
    /// works with the defaults, and asks again, less often each time.
    fn load_site(&'static self, attempt: u32) {
        leptos::task::spawn_local(async move {
            match api::site_view(&self.config()).await {
                Ok(view) => {
                    self.take_settings(view.settings);
                    self.agents_online.set(view.agents_online);
                }
                Err(_) => set_timeout(move || self.load_site(attempt + 1), backoff(attempt + 1)),
            }
            self.ready.set(true);
        });
    }

    /// The site's settings, as loaded or as an admin saved them since. The same again changes
    /// nothing (the site connection brings them each time it opens).
    fn take_settings(&'static self, settings: WidgetSettings) {
        if self.ready.get_untracked() && self.settings.with_untracked(|s| *s == settings) {
            return;
        }
        // The loader places and colours its launcher so on the next page.
        let side = if settings.position == protocol::site::Position::Left { "left" } else { "right" };
        session::save(&self.config().site, Slot::Look, &format!("{side} {}", settings.color));
        self.settings.set(settings);
    }

    /// The ended conversation before this one, read once (its connection closes after the
    /// replay), so the visitor can still read it after a reload. A site that verifies its
    /// users opens it only for the signed-in user: it is read again once `identify` says who.
    fn load_earlier(&'static self) {
        let Some(earlier) = session::load::<Session>(&self.config().site, Slot::Earlier) else { return };
        let path = match self.inner.with_value(|i| i.identity.clone()) {
            Some(identity) => verified_connect_path(&earlier.token, 0, &identity),
            None => visitor_connect_path(&earlier.token, 0),
        };
        let url = format!("{}{}", ws_origin(&self.config().relay), path);
        let epoch = self.epoch();
        let replay = std::rc::Rc::new(std::cell::RefCell::new((Thread::default(), 0u64, None::<Socket>)));
        let on_frame = {
            let replay = replay.clone();
            move |frame: ServerFrame| {
                let mut state = replay.borrow_mut();
                if self.epoch() != epoch {
                    // The visitor it was read for is gone (`shutdown`).
                    if let Some(socket) = state.2.take() {
                        socket.shut();
                    }
                    return;
                }
                match frame {
                    ServerFrame::Welcome { last_seq, .. } => state.1 = last_seq,
                    ServerFrame::History { messages } => messages.into_iter().for_each(|m| state.0.receive(m)),
                    // Refused (not yet identified, or gone): it shows nothing, and must not
                    // blank what another read found.
                    ServerFrame::Error { .. } => {
                        if let Some(socket) = state.2.take() {
                            socket.shut();
                        }
                        return;
                    }
                    _ => {}
                }
                if state.0.last_seq() >= state.1 {
                    self.earlier.set(state.0.entries().to_vec());
                    if let Some(socket) = state.2.take() {
                        socket.shut();
                    }
                }
            }
        };
        if let Some(socket) = Socket::open(&url, on_frame, || {}) {
            replay.borrow_mut().2 = Some(socket);
        }
    }

    // ---- what the visitor does -------------------------------------------------------

    /// The visitor wrote a message (typed, a quick reply, or a suggested reply).
    pub fn send(&'static self, body: String) {
        match self.view.with_untracked(|v| v.status) {
            Status::Blocked => return,
            Status::Ended => self.begin_new_conversation(),
            Status::Open | Status::Deleted => {}
        }
        let client_id = new_client_id();
        self.thread.update(|t| t.push_own(client_id.clone(), body.clone()));
        self.save_outbox();
        self.typing(false);
        self.transmit(client_id, body);
    }

    pub fn retry(&'static self, client_id: &ClientMsgId) {
        if self.view.with_untracked(|v| v.status) == Status::Ended {
            // Refused because the chat ended: it goes to the next conversation instead.
            if let Some(body) = self.thread.try_update(|t| t.take_unsent(client_id)).flatten() {
                self.send(body);
            }
            return;
        }
        if let Some(body) = self.thread.try_update(|t| t.retry(client_id)).flatten() {
            self.transmit(client_id.clone(), body);
        }
    }

    /// The visitor typed (`true`) or stopped (`false`). Throttled, and ends by itself.
    pub fn typing(&'static self, active: bool) {
        let now = now_ms();
        let (send, generation) = self
            .inner
            .try_update_value(|i| {
                i.typing_generation += 1;
                let send = if active {
                    let due = now - i.typing_sent_ms > TYPING_REFRESH_MS;
                    if due {
                        i.typing_sent_ms = now;
                    }
                    due
                } else {
                    let was_typing = i.typing_sent_ms > 0.0;
                    i.typing_sent_ms = 0.0;
                    was_typing
                };
                (send, i.typing_generation)
            })
            .unwrap_or((false, 0));
        if send {
            self.send_frame(&ClientFrame::Typing { active });
        }
        if active {
            set_timeout(
                move || {
                    if self.inner.with_value(|i| i.typing_generation) == generation {
                        self.typing(false);
                    }
                },
                TYPING_IDLE,
            );
        }
    }

    /// The visitor gave (or changed) their email and name.
    pub fn set_contact(&'static self, contact: Contact) {
        let merged = self.contact.with_untracked(|known| Contact {
            email: contact.email.or_else(|| known.email.clone()),
            name: contact.name.or_else(|| known.name.clone()),
        });
        // `identify` on every page load repeats what is known: nothing to tell anyone.
        if self.contact.with_untracked(|known| *known == merged) {
            return;
        }
        session::save(&self.config().site, Slot::Contact, &merged);
        self.contact.set(merged.clone());
        if self.has_session() {
            let sent = self.send_frame(&ClientFrame::SetContact { contact: merged });
            self.inner.update_value(|i| i.contact_unsent = !sent);
        }
    }

    /// `identify` with `user_id` and `user_hash`: every connection carries it from now on.
    pub fn set_identity(&'static self, identity: Identity) {
        let changed = self.inner.try_update_value(|i| i.identity.replace(identity.clone()) != Some(identity)).unwrap_or(false);
        if changed && self.has_session() {
            self.connect();
        }
        if changed && self.earlier.with_untracked(Vec::is_empty) {
            self.load_earlier();
        }
    }

    /// Marks everything shown as read, when the visitor can actually see it.
    fn mark_read(&'static self) {
        let Some(last) = self.thread.with_untracked(Thread::last_agent_seq) else { return };
        let read = self.view.with_untracked(|v| v.read.visitor);
        if last > read && self.inner.with_value(|i| i.welcomed) {
            self.view.update(|v| v.read.visitor = last);
            self.send_frame(&ClientFrame::Read { up_to: last });
        }
    }

    /// The visitor deletes their data: the relay erases the conversation and says `deleted`.
    pub fn delete_my_data(&'static self) {
        self.send_frame(&ClientFrame::DeleteMyData);
    }

    /// Consent mode: the visitor opened the chat, so what was held in memory is stored now.
    fn store_after_consent(&'static self) {
        session::grant_consent();
        let site = self.config().site;
        let contact = self.contact.get_untracked();
        if contact != Contact::default() {
            session::save(&site, Slot::Contact, &contact);
        }
        if let Some(session) = self.inner.with_value(|i| i.session.clone()) {
            session::save(&site, Slot::Session, &session);
        }
        self.save_outbox();
    }

    /// `shutdown`: forget this visitor on this browser (a shared computer).
    pub fn shutdown(&'static self) {
        let site = self.config().site;
        let (socket, availability) = self
            .inner
            .try_update_value(|i| {
                i.epoch += 1;
                i.session = None;
                i.welcomed = false;
                i.resuming = false;
                i.starting = false;
                i.start_unreached = false;
                i.failed_attempts = 0;
                i.reconnect_pending = false;
                i.typing_sent_ms = 0.0;
                // The next person here is not the signed-in user the site named.
                i.identity = None;
                i.contact_unsent = false;
                i.carry_after = None;
                (i.socket.take(), i.availability.take())
            })
            .unwrap_or((None, None));
        socket.into_iter().chain(availability).for_each(Socket::shut);
        session::forget_all(&site);
        self.thread.set(Thread::default());
        self.earlier.set(Vec::new());
        self.view.set(ConversationView::default());
        self.contact.set(Contact::default());
        self.email_skipped.set(false);
        self.announcement.set(String::new());
        self.link_expired.set(false);
        self.deleted.set(false);
        self.link.set(LinkStatus::Idle);
        self.open.set(false);
    }

    // ---- the JS API's events -----------------------------------------------------------

    pub fn on(&'static self, event: String, callback: js_sys::Function) {
        self.inner.update_value(|i| i.listeners.push((event, callback)));
    }

    pub fn emit(&'static self, event: &str, payload: JsValue) {
        let callbacks: Vec<js_sys::Function> =
            self.inner.with_value(|i| i.listeners.iter().filter(|(e, _)| e == event).map(|(_, f)| f.clone()).collect());
        for callback in callbacks {
            // A site's callback that throws must not break the widget.
            let _ = callback.call1(&JsValue::NULL, &payload);
        }
    }

    // ---- the connection ----------------------------------------------------------------

    /// Sends on the welcomed connection; `false` when there is none.
    fn send_frame(&'static self, frame: &ClientFrame) -> bool {
        self.inner
            .try_with_value(|i| match (i.welcomed, &i.socket) {
                (true, Some(socket)) => {
                    socket.send(frame);
                    true
                }
                _ => false,
            })
            .unwrap_or(false)
    }

    /// The stored outbox is every tab's: this tab's unsent messages, and those of other tabs
    /// this one does not know as sent (they are in its thread with a seq) or refused.
    fn save_outbox(&'static self) {
        let site = self.config().site;
        let outbox: Vec<Outgoing> = self.thread.with_untracked(|t| {
            let known = |id: &ClientMsgId| t.entries().iter().any(|e| e.is_mine() && &e.client_id == id);
            let mut outbox: Vec<Outgoing> = session::load_outbox(&site).into_iter().filter(|o| !known(&o.client_id)).collect();
            outbox.extend(t.unacked().into_iter().map(|(client_id, body)| Outgoing { client_id, body }));
            outbox
        });
        if outbox.is_empty() {
            session::forget(&site, Slot::Outbox);
        } else {
            session::save(&site, Slot::Outbox, &outbox);
        }
    }

    fn transmit(&'static self, client_id: ClientMsgId, body: String) {
        if !self.has_session() {
            self.start_conversation();
            return;
        }
        // Without a welcomed socket it waits in the outbox and goes out on the next welcome.
        self.send_frame(&ClientFrame::Send { client_id, body, card: None, suggestions: Vec::new() });
    }

    /// The agent ended the conversation and the visitor writes again: the old one stays on
    /// screen (and in storage, to read later), the next message starts a new one.
    fn begin_new_conversation(&'static self) {
        let site = self.config().site;
        let (old_session, socket) =
            self.inner.try_update_value(|i| {
                i.welcomed = false;
                (i.session.take(), i.socket.take())
            })
            .unwrap_or((None, None));
        if let Some(socket) = socket {
            socket.shut();
        }
        if let Some(old) = old_session {
            session::save(&site, Slot::Earlier, &old);
        }
        session::forget(&site, Slot::Session);
        let ended = self.thread.with_untracked(|t| t.entries().to_vec());
        self.earlier.set(ended);
        self.thread.set(Thread::default());
        self.view.set(ConversationView::default());
        self.link.set(LinkStatus::Idle);
    }

    fn start_conversation(&'static self) {
        let already = self.inner.try_update_value(|i| std::mem::replace(&mut i.starting, true)).unwrap_or(true);
        if already {
            return;
        }
        self.link.set(LinkStatus::Connecting);
        let epoch = self.epoch();
        leptos::task::spawn_local(async move {
            let config = self.config();
            let identity = self.inner.with_value(|i| i.identity.clone());
            let result = api::start_conversation(&config, self.contact.get_untracked(), identity).await;
            if self.epoch() != epoch {
                // Started for the visitor before `shutdown`: the next one must not get it.
                return;
            }
            self.inner.update_value(|i| {
                i.starting = false;
                i.start_unreached = matches!(result, Err(api::Failure(None)));
            });
            match result {
                Ok(started) => {
                    let session = Session::from(started);
                    session::save(&config.site, Slot::Session, &session);
                    self.inner.update_value(|i| i.session = Some(session));
                    self.connect();
                }
                Err(api::Failure(code)) => {
                    // Nothing was created; the messages show as failed and can be retried.
                    let why = self.strings.failure(code);
                    let pending = self.thread.with_untracked(|t| t.unacked());
                    self.thread.update(|t| pending.iter().for_each(|(id, _)| t.fail(id, why.to_owned())));
                    self.link.set(LinkStatus::Idle);
                }
            }
        });
    }

    fn connect(&'static self) {
        let after = self.thread.with_untracked(Thread::last_seq);
        let prepared = self.inner.try_update_value(|i| {
            i.reconnect_pending = false;
            let session = i.session.clone()?;
            i.welcomed = false;
            i.replay_from = after;
            let path = match &i.identity {
                Some(identity) => verified_connect_path(&session.token, after, identity),
                None => visitor_connect_path(&session.token, after),
            };
            let url = format!("{}{}", ws_origin(&i.config.relay), path);
            Some((url, i.socket.take()))
        });
        let Some(Some((url, old))) = prepared else { return };
        if let Some(old) = old {
            old.shut();
        }
        self.link.set(LinkStatus::Connecting);
        match Socket::open(&url, move |frame| self.on_frame(frame), move || self.on_close()) {
            Some(socket) => self.inner.update_value(|i| {
                i.socket = Some(socket);
                i.last_frame_ms = now_ms();
            }),
            None => self.schedule_reconnect(),
        }
    }

    fn on_frame(&'static self, frame: ServerFrame) {
        self.inner.update_value(|i| i.last_frame_ms = now_ms());
        match frame {
            ServerFrame::Welcome { status: Status::Deleted, .. } => self.forget_session(),
            ServerFrame::Welcome { status, read, contact, last_seq, .. } => {
                let confirmed = self.inner.try_update_value(|i| {
                    i.welcomed = true;
                    i.failed_attempts = 0;
                    std::mem::replace(&mut i.resuming, false).then(|| i.session.clone()).flatten()
                });
                let from_link = matches!(confirmed, Some(Some(_)));
                if let Some(Some(linked)) = confirmed {
                    // The email link opened its conversation: it is this device's now.
                    let site = self.config().site;
                    session::save(&site, Slot::Session, &linked);
                    session::forget(&site, Slot::Outbox);
                }
                self.view.update(|v| {
                    v.status = status;
                    v.read = read;
                });
                self.link.set(LinkStatus::Connected);
                self.reconcile_contact(contact, from_link);
                let outbox = self.thread.with_untracked(Thread::unacked);
                if status == Status::Ended && !outbox.is_empty() {
                    // Written while away, and the chat ended meanwhile: the messages start the
                    // next conversation, once the ended one's replay has arrived.
                    self.inner.update_value(|i| i.carry_after = Some(last_seq));
                    self.carry_outbox_when_replayed();
                    return;
                }
                // The outbox: everything not yet acknowledged goes out again, same client ids.
                for (client_id, body) in outbox {
                    self.transmit(client_id, body);
                }
            }
            ServerFrame::History { messages } => {
                // A reconnect's replay brings what arrived while the link was down: news, as
                // if it had come live. The first replay of a page is what was already there.
                let (replay_from, held) = (self.inner.with_value(|i| i.replay_from), self.thread.with_untracked(Thread::last_seq));
                if replay_from > 0 {
                    self.arrived(messages.iter().filter(|m| m.seq > held));
                }
                self.thread.update(|t| messages.into_iter().for_each(|m| t.receive(m)));
                self.carry_outbox_when_replayed();
            }
            ServerFrame::Message { message } => {
                self.arrived(std::iter::once(&message));
                self.thread.update(|t| t.receive(message));
                self.save_outbox();
            }
            ServerFrame::Revised { message } => self.thread.update(|t| t.revise(message)),
            ServerFrame::Ack { client_id, seq, .. } => {
                self.thread.update(|t| t.ack(&client_id, seq));
                self.save_outbox();
            }
            ServerFrame::Typing { author: Author::Agent { name, .. }, active } => self.agent_typing(name.to_string(), active),
            ServerFrame::Typing { .. } => {}
            ServerFrame::Read { role, up_to } => self.view.update(|v| match role {
                protocol::Role::Agent => v.read.agent = v.read.agent.max(up_to),
                protocol::Role::Visitor => v.read.visitor = v.read.visitor.max(up_to),
            }),
            ServerFrame::Status { status: Status::Deleted } => {
                // Erased: nothing of it stays here either.
                self.shutdown();
                self.open.set(true);
                self.deleted.set(true);
            }
            ServerFrame::Status { status } => self.view.update(|v| v.status = status),
            ServerFrame::Contact { contact } => {
                session::save(&self.config().site, Slot::Contact, &contact);
                self.contact.set(contact);
            }
            ServerFrame::Error { code, client_id, .. } => match client_id {
                Some(client_id) => {
                    self.thread.update(|t| t.fail(&client_id, self.strings.failure(Some(code)).to_owned()));
                    self.save_outbox();
                    if code == ErrorCode::ConversationClosed {
                        // Ended elsewhere while we wrote: the status catches up on the next welcome.
                        self.view.update(|v| if v.status == Status::Open { v.status = Status::Ended });
                    }
                }
                // The conversation cannot be opened here: its token is dead, or it belongs to
                // another signed-in user than the page's now (a shared computer where the
                // last one did not sign out). Trying again would never get further.
                None if matches!(
                    code,
                    ErrorCode::InvalidToken | ErrorCode::UnknownConversation | ErrorCode::InvalidIdentity | ErrorCode::IdentityRequired
                ) => {
                    if self.inner.try_update_value(|i| std::mem::replace(&mut i.resuming, false)) == Some(true) {
                        self.link_expired.set(true);
                        self.return_to_stored_session();
                    } else {
                        self.forget_session();
                    }
                }
                None => {}
            },
            // The site connection's frames, and agents'; a visitor's connection carries none.
            ServerFrame::Availability { .. }
            | ServerFrame::WidgetSettings { .. }
            | ServerFrame::EmailFallback { .. }
            | ServerFrame::Pong
            | ServerFrame::Assigned { .. }
            | ServerFrame::Inbox { .. }
            | ServerFrame::Agents { .. }
            | ServerFrame::Alert { .. }
            | ServerFrame::CannedChanged
            | ServerFrame::InboxSettings { .. } => {}
        }
    }

    /// New messages from agents: the visitor hears of them (the live region, a chime when
    /// they cannot see the panel) and so does the page (`message`).
    fn arrived<'m>(&'static self, messages: impl Iterator<Item = &'m protocol::Message>) {
        let mut any = false;
        for message in messages {
            let Author::Agent { name, .. } = &message.author else { continue };
            any = true;
            let text = if message.body.is_empty() { card_title(&message.card) } else { message.body.clone() };
            self.announcement.set(self.strings.announce_message().replace("{name}", name.as_str()).replace("{text}", &text));
            let payload = js_sys::JSON::parse(&message.to_json()).ok();
            self.emit("message", payload.unwrap_or(JsValue::NULL));
        }
        if !any {
            return;
        }
        self.view.update(|v| v.agent_typing = None);
        let unseen = !self.open.get_untracked() || !self.page_visible.get_untracked();
        if unseen && self.settings.with_untracked(|s| s.sound) {
            attention::chime();
        }
    }

    /// The outbox of an ended conversation, once its replay is complete: the old thread
    /// becomes the earlier conversation and the messages, same client ids, start a new one.
    fn carry_outbox_when_replayed(&'static self) {
        let Some(after) = self.inner.with_value(|i| i.carry_after) else { return };
        if self.thread.with_untracked(Thread::last_seq) < after {
            return;
        }
        self.inner.update_value(|i| i.carry_after = None);
        let outbox = self.thread.try_update(Thread::take_unacked).unwrap_or_default();
        self.begin_new_conversation();
        self.thread.update(|t| outbox.into_iter().for_each(|(client_id, body)| t.push_own(client_id, body)));
        self.save_outbox();
        self.start_conversation();
    }

    /// On welcome: the relay's contact and ours meet. What the relay lacks, it is told;
    /// what it has that we lack, we keep; a change the relay missed replaces its own. A
    /// conversation opened from an email link is told nothing: what this browser knows may
    /// be someone else's, and the link's conversation keeps its own.
    fn reconcile_contact(&'static self, relay: Contact, from_link: bool) {
        let known = if from_link { Contact::default() } else { self.contact.get_untracked() };
        let unsent = self.inner.try_update_value(|i| std::mem::take(&mut i.contact_unsent)).unwrap_or(false);
        let relay_lacks = (known.email.is_some() && relay.email.is_none()) || (known.name.is_some() && relay.name.is_none());
        if (unsent && !from_link) || relay_lacks {
            self.send_frame(&ClientFrame::SetContact { contact: known.clone() });
        }
        let merged = if unsent && !from_link { known } else { Contact { email: known.email.or(relay.email), name: known.name.or(relay.name) } };
        session::save(&self.config().site, Slot::Contact, &merged);
        self.contact.set(merged);
    }

    fn agent_typing(&'static self, name: String, active: bool) {
        let generation = self.inner.try_update_value(|i| {
            i.agent_typing_generation += 1;
            i.agent_typing_generation
        });
        self.view.update(|v| v.agent_typing = active.then_some(name));
        if active {
            set_timeout(
                move || {
                    if self.inner.with_value(|i| Some(i.agent_typing_generation)) == generation {
                        self.view.update(|v| v.agent_typing = None);
                    }
                },
                AGENT_TYPING_TIMEOUT,
            );
        }
    }

    /// An email link failed: back to what this device had (if anything).
    fn return_to_stored_session(&'static self) {
        let site = self.config().site;
        let stored: Option<Session> = session::load(&site, Slot::Session);
        if let Some(Some(socket)) = self.inner.try_update_value(|i| {
            i.session = stored.clone();
            i.welcomed = false;
            i.socket.take()
        }) {
            socket.shut();
        }
        self.thread.set(Thread::default());
        self.view.set(ConversationView::default());
        if stored.is_some() {
            self.connect();
        } else {
            self.link.set(LinkStatus::Idle);
        }
    }

    /// The saved conversation cannot be opened any more: start afresh with the next message.
    fn forget_session(&'static self) {
        let site = self.config().site;
        if let Some(Some(socket)) = self.inner.try_update_value(|i| {
            i.session = None;
            i.welcomed = false;
            i.socket.take()
        }) {
            socket.shut();
        }
        session::forget(&site, Slot::Session);
        self.thread.update(|t| *t = Thread::default());
        self.view.set(ConversationView::default());
        self.link.set(LinkStatus::Idle);
    }

    fn on_close(&'static self) {
        let reconnect = self.inner.try_update_value(|i| {
            i.welcomed = false;
            i.socket = None;
            i.session.is_some()
        });
        if reconnect == Some(true) {
            self.schedule_reconnect();
        }
    }

    fn schedule_reconnect(&'static self) {
        let attempt = self
            .inner
            .try_update_value(|i| {
                if i.reconnect_pending {
                    return None;
                }
                i.reconnect_pending = true;
                i.failed_attempts += 1;
                Some(i.failed_attempts)
            })
            .flatten();
        let Some(attempt) = attempt else { return };
        self.link.set(LinkStatus::Reconnecting);
        set_timeout(
            move || {
                if self.inner.with_value(|i| i.reconnect_pending) {
                    self.connect();
                }
            },
            backoff(attempt),
        );
    }

    /// The browser is back online: do not wait for the backoff.
    fn reconnect_now(&'static self) {
        if self.open.get_untracked() {
            self.inner.update_value(|i| i.availability_failures = 0);
            self.open_availability(true);
        }
        let (has_session, disconnected) = self.inner.with_value(|i| (i.session.is_some(), i.session.is_some() && !i.welcomed));
        if disconnected {
            self.inner.update_value(|i| i.failed_attempts = 0);
            self.connect();
        } else if !has_session {
            // The first message could not start the conversation while offline: it was
            // marked not sent, and goes now.
            if self.inner.with_value(|i| i.start_unreached) {
                self.thread.update(Thread::retry_unsent);
            }
            if self.thread.with_untracked(|t| !t.unacked().is_empty()) {
                self.start_conversation();
            }
        }
        // What still looks connected may have died with the old network.
        self.probe();
    }

    /// Every few seconds: a ping on each connection, and one that sent nothing back since the
    /// last ping is dead even if the browser has not noticed (a phone in a tunnel).
    fn keepalive(&'static self) {
        self.drop_silent(now_ms() - SILENT_MS);
        self.ping();
    }

    /// Back online, or the page shown again (a phone waking): a connection that died with the
    /// old network still looks open, and the keepalive would take up to a minute to notice.
    /// One that does not answer a ping within a few seconds is dropped and made again now.
    fn probe(&'static self) {
        let asked = now_ms();
        self.ping();
        set_timeout(move || self.drop_silent(asked), PROBE_WAIT);
    }

    fn ping(&'static self) {
        self.inner.with_value(|i| {
            if let (true, Some(socket)) = (i.welcomed, &i.socket) {
                socket.send_text(ClientFrame::PING_TEXT);
            }
            if let Some(socket) = &i.availability {
                socket.send_text(ClientFrame::PING_TEXT);
            }
        });
    }

    /// Drops each connection that has sent nothing since `since` (ms): at once, not when the
    /// browser gives up on the closing handshake (a minute more on a dead link). The status
    /// says so, and the retry starts.
    fn drop_silent(&'static self, since: f64) {
        let (gone, availability_gone) = self
            .inner
            .try_update_value(|i| {
                let gone = if i.welcomed && i.last_frame_ms < since { i.socket.take() } else { None };
                let availability_gone = if i.availability_heard_ms < since { i.availability.take() } else { None };
                (gone, availability_gone)
            })
            .unwrap_or((None, None));
        if let Some(socket) = gone {
            socket.shut();
            self.on_close();
        }
        if let Some(socket) = availability_gone {
            socket.shut();
            self.availability_lost();
        }
    }

    /// Availability is live while the panel is open: a socket to the site, which says who is
    /// online and what the widget's settings are when it opens, and again whenever either
    /// changes.
    fn open_availability(&'static self, open: bool) {
        let current = self.inner.try_update_value(|i| i.availability.take()).flatten();
        if let Some(socket) = current {
            if open {
                self.inner.update_value(|i| i.availability = Some(socket));
                return;
            }
            socket.shut();
        }
        if !open {
            self.inner.update_value(|i| i.availability_failures = 0);
            return;
        }
        let config = self.config();
        let url = format!("{}{}", ws_origin(&config.relay), availability_path(&config.site));
        let on_frame = move |frame| {
            self.inner.update_value(|i| {
                i.availability_heard_ms = now_ms();
                i.availability_failures = 0;
            });
            match frame {
                ServerFrame::Availability { agents_online } => self.agents_online.set(agents_online),
                ServerFrame::WidgetSettings { settings } => self.take_settings(settings),
                _ => {}
            }
        };
        let socket = Socket::open(&url, on_frame, move || self.availability_lost());
        let opened = socket.is_some();
        self.inner.update_value(|i| {
            i.availability = socket;
            i.availability_heard_ms = now_ms();
        });
        if !opened {
            self.availability_lost();
        }
    }

    /// The availability socket dropped: while the panel stays open it is opened again, less
    /// often each time; until then the last answer stands.
    fn availability_lost(&'static self) {
        let attempt = self
            .inner
            .try_update_value(|i| {
                i.availability = None;
                i.availability_failures += 1;
                i.availability_failures
            })
            .unwrap_or(1);
        set_timeout(
            move || {
                if self.open.get_untracked() && self.inner.with_value(|i| i.availability.is_none()) {
                    self.open_availability(true);
                }
            },
            backoff(attempt),
        );
    }

    /// Everything that follows the signals: reading, availability, storage, events, title.
    fn watch(&'static self) {
        effect(move || {
            // Read when the visitor can see it: panel open, page visible, messages there.
            let can_see = self.open.get() && self.page_visible.get() && self.link.get() == LinkStatus::Connected;
            self.thread.track();
            if can_see {
                self.mark_read();
            }
        });
        let mut was_open = None;
        effect(move || {
            let open = self.open.get();
            if open && !session::consented() {
                self.store_after_consent();
            }
            self.open_availability(open);
            match was_open.replace(open) {
                Some(was) if was != open => self.emit(if open { "open" } else { "close" }, JsValue::NULL),
                // Opened at mount (a click or `open` before load): tell the listeners the page
                // registers right after mount.
                None if open => {
                    set_timeout(move || self.emit("open", JsValue::NULL), Duration::ZERO);
                }
                _ => {}
            }
        });
        let mut was_unread = None;
        effect(move || {
            let read = self.view.with(|v| v.read.visitor);
            let unread = self.thread.with(|t| t.unread(read));
            if was_unread.replace(unread).is_some_and(|p| p != unread) {
                self.emit("unread", JsValue::from_f64(unread as f64));
            }
            let hint = unread > 0 && (!self.open.get() || !self.page_visible.get());
            attention::title_hint(hint.then(|| self.strings.title_hint().replace("{n}", &unread.to_string())));
        });

        let listener = window_event_listener_untyped("online", move |_| self.reconnect_now());
        std::mem::forget(listener);
        let listener = window_event_listener_untyped("visibilitychange", move |_| {
            let visible = !page_hidden();
            self.page_visible.set(visible);
            if visible {
                self.probe();
            }
        });
        std::mem::forget(listener);
        let listener = window_event_listener_untyped("storage", move |event| self.on_storage(event));
        std::mem::forget(listener);
        // Runs for the page's lifetime, like the widget.
        let _ = set_interval_with_handle(move || self.keepalive(), KEEPALIVE);
    }

    /// Another tab of the same site changed the stored session or contact.
    fn on_storage(&'static self, event: web_sys::Event) {
        let Some(key) = js_sys::Reflect::get(&event, &JsValue::from_str("key")).ok().and_then(|k| k.as_string()) else {
            return;
        };
        let site = self.config().site;
        if key == Slot::Session.key(&site) {
            let stored: Option<Session> = session::load(&site, Slot::Session);
            let changed = self.inner.with_value(|i| i.session != stored);
            if changed {
                let ours = self.inner.with_value(|i| i.session.as_ref().map(|s| s.conversation_id.clone()));
                match stored {
                    Some(session) => {
                        // The other tab started (or restarted) the conversation: join it. A
                        // different conversation brings its own thread, from its start.
                        if ours.is_some_and(|ours| ours != session.conversation_id) {
                            self.thread.set(Thread::default());
                            self.view.set(ConversationView::default());
                        }
                        self.inner.update_value(|i| i.session = Some(session));
                        self.connect();
                    }
                    // The other tab wrote after the chat ended: this one is the earlier conversation now.
                    None if self.view.with_untracked(|v| v.status) == Status::Ended => self.begin_new_conversation(),
                    None => self.forget_session(),
                }
            }
        } else if key == Slot::Contact.key(&site) {
            self.contact.set(session::load_contact(&site));
        }
    }
}

/// Takes `#chat-resume=…` out of the address bar, so the token is not bookmarked or shared.
fn forget_link_in_address() {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let (Ok(path), Ok(search)) = (location.pathname(), location.search()) else { return };
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("{path}{search}")));
    }
}

fn card_title(card: &Option<protocol::Card>) -> String {
    match card {
        Some(protocol::Card::Article { title, .. }) => title.clone(),
        Some(protocol::Card::Link { label, .. }) => label.clone(),
        None => String::new(),
    }
}
