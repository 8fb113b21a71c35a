//! The `Conversation` Durable Object: one per conversation, the only writer of its state.
//!
//! Storage is the object's SQLite database:
//! - `meta`: site, creation time, status (open, ended, blocked), the visitor's contact, and
//!   the read marks (visitor read up to seq N, agents up to M). A conversation without a site
//!   does not exist, whatever its id.
//! - `messages`: every message with its `seq` (AUTOINCREMENT: strictly increasing, never
//!   reused) and its client id, unique per author. A resend is acknowledged with the seq it
//!   already has and stores nothing.
//!
//! The email fallback: an agent's message that starts an unread batch sets `email_due_at`
//! (the site's delay ahead) and the alarm; the visitor reading everything clears it. When the
//! alarm finds it due, one email covers every agent message still unread, and
//! `notified_up_to` moves past them *before* the send, so neither a retry of the alarm nor a
//! restart can mail the same messages twice. A failed send puts the marker back and retries
//! with backoff; after five failures the agents are told why.
//!
//! Visitors and agents connect through the WebSocket hibernation API, tagged by role, with
//! their identity in the socket attachment, so the object sleeps between messages without
//! dropping anyone. On connect it replays exactly the messages after `after_seq`. Typing
//! indicators are relayed and never stored.

use crate::{config, email, reply};
use protocol::limits::HISTORY_PAGE;
use protocol::token::{self, reply_address, VisitorGrant};
use protocol::{
    AgentName, Author, Card, ClientFrame, ClientMsgId, Contact, ConversationId, Email, EmailStatus, ErrorCode,
    Message, ProtocolError, ReadMarks, Role, SafeUrl, Seq, ServerFrame, SiteId, Status, PROTOCOL_VERSION,
};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{
    durable_object, js_sys, Date, DurableObject, Env, ScheduledTime, Method, Request, Response, Result, SqlStorage, SqlStorageValue, State,
    WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

/// Internal request from the Worker: the conversation was just created for this site.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitConversation {
    pub site: SiteId,
    pub contact: Contact,
    /// The relay's public origin, for links in emails.
    pub origin: String,
    pub page_url: Option<SafeUrl>,
    /// The site's verified user this conversation belongs to.
    pub user_id: Option<String>,
}

/// Where a conversation stands, for the Worker (a verified user's returning start).
pub async fn status_of(stub: &worker::Stub) -> Result<Status> {
    let mut answer = stub.fetch_with_str("https://conversation/status").await?;
    Ok(Status::parse(&answer.text().await?))
}

/// Internal request from the Worker: a visitor's reply by email, already checked.
#[derive(Debug, Serialize, Deserialize)]
pub struct InboundReply {
    pub client_id: ClientMsgId,
    pub body: String,
}

/// How long a link in an email keeps working: 14 days.
const LINK_LIFETIME_SECS: u64 = 14 * 24 * 60 * 60;
/// Sending attempts before the agents are told the email failed.
const EMAIL_ATTEMPTS: u32 = 5;

/// Internal answer to [`InitConversation`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ConversationInitialised {
    pub created_at: u64,
}

/// Who is on the other end of a socket; kept in the socket's attachment so it survives
/// hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Peer {
    pub role: Role,
    #[serde(default)]
    pub name: Option<AgentName>,
    /// A verified visitor: the user the Worker checked.
    #[serde(default, skip_serializing)]
    pub user: Option<String>,
}

impl Peer {
    fn author(&self) -> Author {
        match (&self.role, &self.name) {
            (Role::Agent, Some(name)) => Author::Agent { name: name.clone() },
            _ => Author::Visitor,
        }
    }

    /// Client ids are unique per author, so one author cannot collide with another's ids.
    fn author_key(&self) -> String {
        match &self.name {
            Some(name) if self.role == Role::Agent => format!("agent:{name}"),
            _ => "visitor".to_owned(),
        }
    }
}

/// Internal URL the Worker uses to ask the object to accept a connection.
pub fn connect_url(peer: &Peer, after_seq: Seq) -> String {
    let mut url = format!("https://conversation/connect?role={}&after_seq={after_seq}", peer.role.as_str());
    if let Some(name) = &peer.name {
        url.push_str("&name=");
        url.push_str(&protocol::http::percent_encode(name.as_str()));
    }
    if let Some(user) = &peer.user {
        url.push_str("&user=");
        url.push_str(&protocol::http::percent_encode(user));
    }
    url
}

#[durable_object]
pub struct Conversation {
    state: State,
    env: Env,
    /// Message rate per author: (tokens, last refill in ms). In memory: the object only
    /// hibernates when nobody writes, and then a full bucket is right anyway.
    buckets: RefCell<HashMap<String, (f64, f64)>>,
}

/// A `messages` row as SQLite returns it.
#[derive(Deserialize)]
struct MessageRow {
    seq: i64,
    client_id: String,
    author_role: String,
    author_name: Option<String>,
    body: String,
    card: Option<String>,
    suggestions: Option<String>,
    sent_at: i64,
}

impl MessageRow {
    fn into_message(self) -> Option<Message> {
        let author = match (self.author_role.as_str(), self.author_name) {
            ("agent", Some(name)) => Author::Agent { name: AgentName::parse(&name).ok()? },
            _ => Author::Visitor,
        };
        Some(Message {
            seq: self.seq as Seq,
            client_id: ClientMsgId::parse(&self.client_id).ok()?,
            author,
            body: self.body,
            card: self.card.and_then(|c| serde_json::from_str(&c).ok()),
            suggestions: self.suggestions.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default(),
            sent_at: self.sent_at as u64,
        })
    }
}

#[derive(Deserialize)]
struct SeqRow {
    seq: i64,
}

#[derive(Deserialize)]
struct ValueRow {
    value: String,
}

#[derive(Deserialize)]
struct MaxSeqRow {
    last_seq: Option<i64>,
}

fn now_ms() -> u64 {
    Date::now().as_millis()
}

fn internal(err: worker::Error) -> ProtocolError {
    worker::console_error!("conversation: {err}");
    ProtocolError::new(ErrorCode::Internal, "the conversation could not do that; nothing was stored")
}

fn forbidden(what: &str) -> ProtocolError {
    ProtocolError::new(ErrorCode::Forbidden, format!("{what} is for agents only"))
}

/// What storing a message did.
struct Stored {
    message: Message,
    /// False for a resend of a known client id: nothing new was stored.
    new: bool,
}

/// A message as it is about to be stored.
struct Post {
    client_id: ClientMsgId,
    body: String,
    card: Option<Card>,
    suggestions: Vec<String>,
}

impl Conversation {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn migrate(sql: &SqlStorage) -> Result<()> {
        sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", None)?;
        sql.exec(
            "CREATE TABLE IF NOT EXISTS messages (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                author_key TEXT NOT NULL,
                client_id TEXT NOT NULL,
                author_role TEXT NOT NULL,
                author_name TEXT,
                body TEXT NOT NULL,
                card TEXT,
                suggestions TEXT,
                sent_at INTEGER NOT NULL,
                UNIQUE (author_key, client_id)
            )",
            None,
        )?;
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<String>> {
        let rows: Vec<ValueRow> = self.sql().exec("SELECT value FROM meta WHERE key = ?", vec![key.into()])?.to_array()?;
        Ok(rows.into_iter().next().map(|r| r.value))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.sql().exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![key.into(), value.into()],
        )?;
        Ok(())
    }

    fn exists(&self) -> Result<bool> {
        Ok(self.meta("site")?.is_some())
    }

    fn status(&self) -> Result<Status> {
        Ok(self.meta("status")?.as_deref().map(Status::parse).unwrap_or(Status::Open))
    }

    fn contact(&self) -> Result<Contact> {
        Ok(Contact { email: self.meta("email")?.and_then(|e| Email::parse(&e).ok()), name: self.meta("name")? })
    }

    fn read_marks(&self) -> Result<ReadMarks> {
        let mark = |key| -> Result<Seq> { Ok(self.meta(key)?.and_then(|v| v.parse().ok()).unwrap_or(0)) };
        Ok(ReadMarks { visitor: mark("visitor_read")?, agent: mark("agent_read")? })
    }

    fn last_seq(&self) -> Result<Seq> {
        let row: MaxSeqRow = self.sql().exec("SELECT MAX(seq) AS last_seq FROM messages", None)?.one()?;
        Ok(row.last_seq.unwrap_or(0) as Seq)
    }

    fn messages_after(&self, after_seq: Seq, limit: usize) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, card, suggestions, sent_at FROM messages
                 WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![SqlStorageValue::try_from_i64(after_seq as i64)?, (limit as i64).into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().filter_map(MessageRow::into_message).collect())
    }

    fn init(&self, request: InitConversation) -> Result<ConversationInitialised> {
        if let Some(existing) = self.meta("created_at")? {
            return Ok(ConversationInitialised { created_at: existing.parse().unwrap_or_default() });
        }
        let now = now_ms();
        self.set_meta("site", request.site.as_str())?;
        self.set_meta("created_at", &now.to_string())?;
        self.set_meta("status", Status::Open.as_str())?;
        self.set_meta("origin", &request.origin)?;
        if let Some(page) = &request.page_url {
            self.set_meta("page_url", page.as_str())?;
        }
        if let Some(user) = &request.user_id {
            self.set_meta("user_id", user)?;
        }
        self.store_contact(&request.contact)?;
        Ok(ConversationInitialised { created_at: now })
    }

    fn store_contact(&self, contact: &Contact) -> Result<()> {
        if let Some(email) = &contact.email {
            self.set_meta("email", email.as_str())?;
        }
        if let Some(name) = &contact.name {
            self.set_meta("name", name)?;
        }
        Ok(())
    }

    async fn accept_connection(&self, req: Request) -> Result<Response> {
        if !self.exists()? {
            return reply::refuse(&req, ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"));
        }
        let url = req.url()?;
        let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let role = if param("role").as_deref() == Some("agent") { Role::Agent } else { Role::Visitor };
        let name = param("name").and_then(|n| AgentName::parse(&n).ok());
        let after_seq: Seq = param("after_seq").and_then(|s| s.parse().ok()).unwrap_or(0);
        // The Worker verified `user` when the site verifies identities; it must be this
        // conversation's user.
        let user = param("user");
        if role == Role::Visitor && user.is_some() && user != self.meta("user_id")? {
            return reply::refuse(&req, ProtocolError::new(ErrorCode::InvalidIdentity, "this is another user's conversation"));
        }
        let peer = Peer { role, name, user: None };

        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[role.as_str()]);
        pair.server.serialize_attachment(&peer)?;

        let conversation_id = ConversationId::parse(&self.state.id().to_string())
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let last_seq = self.last_seq()?;
        send(
            &pair.server,
            &ServerFrame::Welcome {
                v: PROTOCOL_VERSION,
                conversation_id,
                role,
                last_seq,
                status: self.status()?,
                read: self.read_marks()?,
                contact: self.contact()?,
            },
        );
        let mut cursor = after_seq;
        while cursor < last_seq {
            let page = self.messages_after(cursor, HISTORY_PAGE)?;
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            send(&pair.server, &ServerFrame::History { messages: page });
        }
        if role == Role::Agent {
            if let Some(status) = self.meta("email_status")?.and_then(|json| serde_json::from_str(&json).ok()) {
                send(&pair.server, &ServerFrame::EmailFallback { status });
            }
        }
        Response::from_websocket(pair.client)
    }

    /// Sends a frame to every connection but `except`.
    fn broadcast(&self, frame: &ServerFrame, except: Option<&WebSocket>) {
        let text = frame.encode();
        for socket in self.state.get_websockets() {
            if Some(&socket) != except {
                // A socket that is closing cannot take it; it will catch up on reconnect.
                let _ = socket.send_with_str(&text);
            }
        }
    }

    /// Stores a message once; a known client id gives back the message it already is.
    fn store(&self, peer: &Peer, post: Post) -> std::result::Result<Stored, ProtocolError> {
        let author_key = peer.author_key();
        let sql = self.sql();
        let known: Vec<MessageRow> = sql
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, card, suggestions, sent_at FROM messages
                 WHERE author_key = ? AND client_id = ?",
                vec![author_key.as_str().into(), post.client_id.as_str().into()],
            )
            .and_then(|c| c.to_array())
            .map_err(internal)?;
        if let Some(message) = known.into_iter().next().and_then(MessageRow::into_message) {
            return Ok(Stored { message, new: false });
        }
        self.take_message_token(&author_key)?;
        if peer.role == Role::Visitor && (post.card.is_some() || !post.suggestions.is_empty()) {
            return Err(forbidden("sending cards and suggested replies"));
        }
        match self.status().map_err(internal)? {
            Status::Open => {}
            Status::Ended => {
                return Err(ProtocolError::new(ErrorCode::ConversationClosed, "this conversation has ended"));
            }
            Status::Blocked => {
                return Err(ProtocolError::new(ErrorCode::ConversationClosed, "this visitor is blocked"));
            }
            Status::Deleted => {
                return Err(ProtocolError::new(ErrorCode::ConversationClosed, "this conversation was deleted"));
            }
        }

        let author = peer.author();
        let sent_at = now_ms();
        let author_name = match &author {
            Author::Agent { name } => SqlStorageValue::from(name.as_str()),
            Author::Visitor => SqlStorageValue::Null,
        };
        let card = post.card.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default());
        let suggestions = (!post.suggestions.is_empty()).then(|| serde_json::to_string(&post.suggestions).unwrap_or_default());
        let row: SeqRow = sql
            .exec(
                "INSERT INTO messages (author_key, client_id, author_role, author_name, body, card, suggestions, sent_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                vec![
                    author_key.into(),
                    post.client_id.as_str().into(),
                    author.role().as_str().into(),
                    author_name,
                    post.body.as_str().into(),
                    card.into(),
                    suggestions.into(),
                    SqlStorageValue::try_from_i64(sent_at as i64).map_err(internal)?,
                ],
            )
            .and_then(|c| c.one())
            .map_err(internal)?;
        let seq = row.seq as Seq;
        // The author has read their own message.
        self.mark_read(peer.role, seq).map_err(internal)?;
        let message = Message {
            seq,
            client_id: post.client_id,
            author,
            body: post.body,
            card: post.card,
            suggestions: post.suggestions,
            sent_at,
        };
        Ok(Stored { message, new: true })
    }

    /// Messages per second per author, with bursts of twice that; refused beyond.
    fn take_message_token(&self, author_key: &str) -> std::result::Result<(), ProtocolError> {
        let rate = config::messages_per_second(&self.env).max(1) as f64;
        let burst = rate * 2.0;
        let now = now_ms() as f64;
        let mut buckets = self.buckets.borrow_mut();
        let (tokens, last) = buckets.entry(author_key.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + (now - *last) / 1000.0 * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(ProtocolError::rate_limited("messages", ((1.0 - *tokens) / rate).ceil() as u32))
        }
    }

    /// Email captures per conversation per hour, counted in storage.
    fn take_contact_change(&self) -> std::result::Result<(), ProtocolError> {
        let now = now_ms();
        let hour_ago = now.saturating_sub(3_600_000);
        let mut changes: Vec<u64> = self
            .meta("contact_changes")
            .map_err(internal)?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default();
        changes.retain(|&at| at > hour_ago);
        if changes.len() as u32 >= config::contact_changes_per_hour(&self.env) {
            let retry = (changes[0] + 3_600_000).saturating_sub(now) / 1000;
            return Err(ProtocolError::rate_limited("email changes", retry as u32));
        }
        changes.push(now);
        self.set_meta("contact_changes", &serde_json::to_string(&changes).unwrap_or_default()).map_err(internal)
    }

    /// Moves a side's read mark forward (never back, never past the last message).
    /// Returns the new mark when it moved.
    fn mark_read(&self, role: Role, up_to: Seq) -> Result<Option<Seq>> {
        let marks = self.read_marks()?;
        let current = if role == Role::Visitor { marks.visitor } else { marks.agent };
        let up_to = up_to.min(self.last_seq()?);
        if up_to <= current {
            return Ok(None);
        }
        let key = if role == Role::Visitor { "visitor_read" } else { "agent_read" };
        self.set_meta(key, &up_to.to_string())?;
        if role == Role::Visitor && up_to >= self.last_seq()? {
            // Read in time: no email for this batch.
            self.sql().exec("DELETE FROM meta WHERE key = 'email_due_at'", None)?;
        }
        Ok(Some(up_to))
    }

    fn set_status(&self, status: Status) -> Result<()> {
        if self.status()? != status {
            self.set_meta("status", status.as_str())?;
            self.broadcast(&ServerFrame::Status { status }, None);
        }
        Ok(())
    }

    /// Handles one frame; a message it stored comes back to be acknowledged.
    fn handle(&self, ws: &WebSocket, peer: &Peer, frame: ClientFrame) -> std::result::Result<Option<Stored>, ProtocolError> {
        match frame {
            ClientFrame::Send { client_id, body, card, suggestions } => {
                return self.store(peer, Post { client_id, body, card, suggestions }).map(Some)
            }
            ClientFrame::Typing { active } => {
                self.broadcast(&ServerFrame::Typing { author: peer.author(), active }, Some(ws));
            }
            ClientFrame::Read { up_to } => {
                if let Some(up_to) = self.mark_read(peer.role, up_to).map_err(internal)? {
                    self.broadcast(&ServerFrame::Read { role: peer.role, up_to }, None);
                }
            }
            ClientFrame::SetContact { contact } => {
                if peer.role != Role::Visitor {
                    return Err(ProtocolError::new(ErrorCode::Forbidden, "only the visitor sets their contact details"));
                }
                self.take_contact_change()?;
                self.store_contact(&contact).map_err(internal)?;
                self.broadcast(&ServerFrame::Contact { contact: self.contact().map_err(internal)? }, None);
            }
            ClientFrame::End | ClientFrame::Block if peer.role != Role::Agent => return Err(forbidden("ending or blocking")),
            ClientFrame::End => {
                if self.status().map_err(internal)? == Status::Open {
                    self.set_status(Status::Ended).map_err(internal)?;
                }
            }
            ClientFrame::Block => self.set_status(Status::Blocked).map_err(internal)?,
            // Handled before this (it needs the site): see `websocket_message`.
            ClientFrame::DeleteMyData => {}
            ClientFrame::SetStatus { .. } => {
                return Err(ProtocolError::new(
                    ErrorCode::Forbidden,
                    "presence is set on the site connection, not on a conversation",
                ))
            }
            ClientFrame::Ping => send(ws, &ServerFrame::Pong),
        }
        Ok(None)
    }

    // ---- privacy ----------------------------------------------------------------------

    /// Erases the conversation: its messages, the visitor's contact, every pending email;
    /// the site forgets it; everyone connected hears `deleted` and is disconnected.
    async fn erase(&self) -> Result<()> {
        let sql = self.sql();
        sql.exec("DELETE FROM messages", None)?;
        sql.exec("DELETE FROM meta WHERE key NOT IN ('site', 'created_at', 'origin')", None)?;
        self.set_meta("status", Status::Deleted.as_str())?;
        if let Some(site) = self.site()? {
            let stub = self.env.durable_object("SITE_OBJECTS")?.id_from_name(site.as_str())?.get_stub()?;
            crate::site::forget_conversation(&stub, &self.state.id().to_string()).await?;
        }
        let frame = ServerFrame::Status { status: Status::Deleted }.encode();
        for socket in self.state.get_websockets() {
            let _ = socket.send_with_str(&frame);
            let _ = socket.close(Some(1000), Some("deleted"));
        }
        Ok(())
    }

    /// A conversation that closed is erased after the site's retention period, if it has one.
    async fn schedule_retention(&self) -> Result<()> {
        if !matches!(self.status()?, Status::Ended | Status::Blocked) || self.meta("erase_at")?.is_some() {
            return Ok(());
        }
        let Some(days) = self.site_settings().await?.retention_days else { return Ok(()) };
        let due = now_ms() + days as u64 * config::retention_day_ms(&self.env);
        self.set_meta("erase_at", &due.to_string())?;
        self.arm(due).await
    }

    // ---- the email fallback ---------------------------------------------------------

    fn site(&self) -> Result<Option<SiteId>> {
        Ok(self.meta("site")?.and_then(|s| SiteId::parse(&s).ok()))
    }

    async fn site_settings(&self) -> Result<protocol::site::WidgetSettings> {
        let Some(site) = self.site()? else { return Ok(Default::default()) };
        let stub = self.env.durable_object("SITE_OBJECTS")?.id_from_name(site.as_str())?.get_stub()?;
        let mut answer = stub.fetch_with_str(crate::site::VIEW_URL).await?;
        Ok(answer.json::<protocol::site::SiteView>().await?.settings)
    }

    /// The site's email delay, cached for a few minutes: a visitor who writes has read
    /// everything, so nearly every agent reply starts a new batch, and asking the site object
    /// each time was most of a reply's cost (see BENCHMARKS.md).
    async fn email_delay_ms(&self) -> Result<u64> {
        const FRESH_MS: u64 = 5 * 60 * 1000;
        let cached = self.meta("email_delay_cache")?.and_then(|v| {
            let (delay, at) = v.split_once('@')?;
            Some((delay.parse::<u64>().ok()?, at.parse::<u64>().ok()?))
        });
        match cached {
            Some((delay, at)) if now_ms().saturating_sub(at) < FRESH_MS => Ok(delay),
            _ => {
                let delay = self.site_settings().await?.email_delay_seconds as u64 * 1000;
                self.set_meta("email_delay_cache", &format!("{delay}@{}", now_ms()))?;
                Ok(delay)
            }
        }
    }

    /// An agent's message that starts an unread batch sets the email's due time.
    async fn schedule_email(&self) -> Result<()> {
        if self.meta("email_due_at")?.is_some() {
            return Ok(()); // this batch already has its time
        }
        let delay_ms = self.email_delay_ms().await?;
        let due = now_ms() + delay_ms;
        self.set_meta("email_due_at", &due.to_string())?;
        self.arm(due).await
    }

    /// One alarm per object: keep it at the earliest due time.
    async fn arm(&self, due: u64) -> Result<()> {
        let storage = self.state.storage();
        match storage.get_alarm().await? {
            Some(current) if (current as u64) <= due => Ok(()),
            // An absolute time: a plain integer would be read as an offset from now.
            _ => storage.set_alarm(ScheduledTime::new(js_sys::Date::new(&(due as f64).into()))).await,
        }
    }

    /// Records the email fallback's outcome and tells the agents; agents who connect later
    /// hear it after their welcome.
    fn tell_agents(&self, status: EmailStatus) {
        if let Ok(json) = serde_json::to_string(&status) {
            if let Err(err) = self.set_meta("email_status", &json) {
                worker::console_error!("conversation: could not record the email status: {err}");
            }
        }
        let frame = ServerFrame::EmailFallback { status }.encode();
        for socket in self.state.get_websockets_with_tag(Role::Agent.as_str()) {
            let _ = socket.send_with_str(&frame);
        }
    }

    /// Links that reopen the conversation: on the site's page when known, and on the relay.
    fn links(&self, conversation: &ConversationId) -> Result<Option<(String, String, String)>> {
        let (Some(site), Some(origin)) = (self.site()?, self.meta("origin")?) else { return Ok(None) };
        let secret = config::token_secret(&self.env).map_err(|e| worker::Error::RustError(e.message))?;
        let grant = VisitorGrant { site, conversation: conversation.clone() };
        let link_token = token::sign(&secret, &grant, now_ms() / 1000 + LINK_LIFETIME_SECS);
        let fragment = format!("#{}{link_token}", protocol::http::RESUME_FRAGMENT);
        let fallback = format!("{origin}/resume{fragment}");
        let resume = self.meta("page_url")?.map(|page| format!("{page}{fragment}")).unwrap_or_else(|| fallback.clone());
        let unsubscribe = format!("{origin}/api/email/unsubscribe?token={link_token}");
        Ok(Some((resume, fallback, unsubscribe)))
    }

    /// The alarm found the email due: one email for every agent message still unread.
    async fn send_unread_email(&self) -> Result<()> {
        let marks = self.read_marks()?;
        let notified: Seq = self.meta("notified_up_to")?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let after = marks.visitor.max(notified);
        let history = self.messages_after(0, 100_000)?;
        let unread: Vec<Message> = history.iter().filter(|m| m.seq > after && m.author.role() == Role::Agent).cloned().collect();
        let Some(up_to) = unread.last().map(|m| m.seq) else { return Ok(()) };
        if self.meta("email_unsubscribed")?.is_some() {
            self.set_meta("notified_up_to", &up_to.to_string())?;
            self.tell_agents(EmailStatus::Unsubscribed);
            return Ok(());
        }
        let contact = self.contact()?;
        let Some(to) = contact.email.clone() else {
            self.tell_agents(EmailStatus::NoAddress);
            return Ok(());
        };
        let conversation = ConversationId::parse(&self.state.id().to_string()).map_err(|e| worker::Error::RustError(e.message))?;
        let Some((resume, fallback, unsubscribe)) = self.links(&conversation)? else { return Ok(()) };
        let settings = self.site_settings().await?;
        let visitor_last = history.iter().rev().find(|m| m.author == Author::Visitor).map(|m| m.body.clone());
        let (subject, text, html) = email::compose(
            &unread,
            &email::Context {
                site_name: &settings.site_name,
                visitor_name: contact.name.as_deref(),
                visitor_last: visitor_last.as_deref(),
                resume_link: &resume,
                fallback_link: &fallback,
                unsubscribe_link: &unsubscribe,
            },
        );
        let secret = config::token_secret(&self.env).map_err(|e| worker::Error::RustError(e.message))?;
        let outgoing = email::Email {
            from: config::email_from(&self.env),
            to: to.to_string(),
            reply_to: reply_address::for_conversation(&secret, &conversation, &config::reply_domain(&self.env)),
            subject,
            text,
            html,
        };

        // Marked first: whatever happens next, these messages are never mailed twice.
        self.set_meta("notified_up_to", &up_to.to_string())?;
        match email::send(&self.env, &outgoing).await {
            Ok(()) => {
                self.sql().exec("DELETE FROM meta WHERE key = 'email_attempts'", None)?;
                self.tell_agents(EmailStatus::Sent { up_to });
            }
            Err(reason) => {
                worker::console_warn!("conversation: email failed: {reason}");
                self.set_meta("notified_up_to", &notified.to_string())?;
                let attempts: u32 = self.meta("email_attempts")?.and_then(|v| v.parse().ok()).unwrap_or(0) + 1;
                self.set_meta("email_attempts", &attempts.to_string())?;
                if attempts < EMAIL_ATTEMPTS {
                    let due = now_ms() + config::email_retry_base_ms(&self.env) * 2u64.pow(attempts - 1);
                    self.set_meta("email_due_at", &due.to_string())?;
                    self.arm(due).await?;
                } else {
                    self.set_meta("notified_up_to", &up_to.to_string())?;
                    self.tell_agents(EmailStatus::Failed { reason });
                }
            }
        }
        Ok(())
    }

    /// A reply by email: stored as the visitor's message (once per mail), passed on live.
    fn inbound(&self, reply: InboundReply) -> std::result::Result<Message, ProtocolError> {
        let peer = Peer { role: Role::Visitor, name: None, user: None };
        let post = Post { client_id: reply.client_id, body: reply.body, card: None, suggestions: Vec::new() };
        let stored = self.store(&peer, post)?;
        if stored.new {
            self.broadcast(&ServerFrame::Message { message: stored.message.clone() }, None);
        }
        Ok(stored.message)
    }
}

fn send(ws: &WebSocket, frame: &ServerFrame) {
    if let Err(err) = ws.send_with_str(frame.encode()) {
        worker::console_warn!("conversation: could not send to a socket: {err}");
    }
}

impl DurableObject for Conversation {
    fn new(state: State, env: Env) -> Self {
        if let Err(err) = Self::migrate(&state.storage().sql()) {
            worker::console_error!("conversation: migration failed: {err}");
        }
        // Keep-alives are answered by the runtime without waking the object.
        if let Ok(pair) = worker::worker_sys::WebSocketRequestResponsePair::new(ClientFrame::PING_TEXT, ServerFrame::PONG_TEXT) {
            state.set_websocket_auto_response(&pair);
        }
        Self { state, env, buckets: RefCell::new(HashMap::new()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.url()?.path().to_owned();
        match (req.method(), path.as_str()) {
            (Method::Post, "/init") => {
                let request: InitConversation = req.json().await?;
                reply::json(&self.init(request)?, 200)
            }
            (Method::Post, "/inbound") => {
                if !self.exists()? {
                    return reply::http_error(ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"));
                }
                let reply: InboundReply = req.json().await?;
                match self.inbound(reply) {
                    Ok(message) => reply::json(&message, 200),
                    Err(err) => reply::http_error(err),
                }
            }
            (Method::Get, "/status") => Response::ok(self.status()?.as_str()),
            (Method::Post, "/erase") => {
                if !self.exists()? {
                    return reply::http_error(ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"));
                }
                self.erase().await?;
                Response::empty()
            }
            (Method::Post, "/unsubscribe") => {
                self.set_meta("email_unsubscribed", "1")?;
                Response::empty()
            }
            (Method::Get, "/connect") => self.accept_connection(req).await,
            _ => reply::http_error(ProtocolError::new(ErrorCode::NotFound, "no such conversation route")),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let text = match message {
            WebSocketIncomingMessage::String(text) => text,
            WebSocketIncomingMessage::Binary(_) => {
                let err = ProtocolError::new(ErrorCode::MalformedFrame, "frames are JSON text, not binary");
                send(&ws, &ServerFrame::error(err, None));
                return Ok(());
            }
        };
        let frame = match ClientFrame::decode(&text) {
            Ok(frame) => frame,
            Err(err) => {
                send(&ws, &ServerFrame::error(err, ClientFrame::client_id_hint(&text)));
                return Ok(());
            }
        };
        let client_id = match &frame {
            ClientFrame::Send { client_id, .. } => Some(client_id.clone()),
            _ => None,
        };
        let Some(peer) = ws.deserialize_attachment::<Peer>()? else {
            let err = ProtocolError::new(ErrorCode::Internal, "connection lost its identity; reconnect");
            send(&ws, &ServerFrame::error(err, client_id));
            return Ok(());
        };
        let closes = matches!(frame, ClientFrame::End | ClientFrame::Block);
        if frame == ClientFrame::DeleteMyData {
            if peer.role == Role::Visitor {
                self.erase().await?;
            } else {
                let err = ProtocolError::new(ErrorCode::Forbidden, "agents delete a conversation through the agent API");
                send(&ws, &ServerFrame::error(err, None));
            }
            return Ok(());
        }
        match self.handle(&ws, &peer, frame) {
            Ok(Some(stored)) => {
                // A new agent message may need an email later. Its due time and the alarm are
                // stored before the ack goes out: the output gate holds the ack until they are
                // durable, so an acknowledged reply is never left without its email.
                if stored.new && peer.role == Role::Agent {
                    if let Err(err) = self.schedule_email().await {
                        worker::console_error!("conversation: could not schedule the email fallback: {err}");
                    }
                }
                let message = stored.message;
                send(&ws, &ServerFrame::Ack { client_id: message.client_id.clone(), seq: message.seq, sent_at: message.sent_at });
                if stored.new {
                    self.broadcast(&ServerFrame::Message { message }, Some(&ws));
                }
            }
            Ok(None) if closes => {
                if let Err(err) = self.schedule_retention().await {
                    worker::console_error!("conversation: could not schedule retention: {err}");
                }
            }
            Ok(None) => {}
            Err(err) => send(&ws, &ServerFrame::error(err, client_id)),
        }
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        // Alarms fire at least once: everything here checks its due time and is idempotent,
        // and the alarm is re-armed for whatever is still ahead.
        let due_at = |key: &str| -> Result<Option<u64>> { Ok(self.meta(key)?.and_then(|v| v.parse().ok())) };
        if let Some(due) = due_at("email_due_at")? {
            if due <= now_ms() {
                self.sql().exec("DELETE FROM meta WHERE key = 'email_due_at'", None)?;
                self.send_unread_email().await?;
            }
        }
        if let Some(due) = due_at("erase_at")? {
            if due <= now_ms() {
                self.erase().await?;
            }
        }
        let ahead = [due_at("email_due_at")?, due_at("erase_at")?].into_iter().flatten().min();
        if let Some(due) = ahead {
            self.arm(due).await?;
        }
        Response::empty()
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        // Completes the closing handshake; 1005/1006 are not allowed as close codes to send.
        let code = if code == 1005 || code == 1006 { 1000 } else { code as u16 };
        let _ = ws.close(Some(code), Some("closing"));
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, err: worker::Error) -> Result<()> {
        worker::console_warn!("conversation: socket error: {err}");
        Ok(())
    }
}
