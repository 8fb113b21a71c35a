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
//! dropping anyone. On connect it replays exactly the messages after `after_seq`, then the
//! edited and deleted ones before it (a client away during an edit has the old text). Typing
//! indicators are relayed and never stored.
//!
//! The inbox update after a change carries the automations' events; one the site did not
//! take leaves its events in `unsent_events` and the alarm sends the entry again.

use crate::{config, email, reply};
use protocol::limits::HISTORY_PAGE;
use protocol::token::{self, reply_address, VisitorGrant};
use protocol::automations::{BotReply, EventKind, WebhookEvent};
use protocol::inbox::{AccountRole, Alert};
use protocol::{
    AgentId, AgentName, Assignee, Author, Card, ClientFrame, ClientMsgId, Contact, ConversationId, Email, EmailStatus,
    ErrorCode, InboxEntry, Message, ProtocolError, ReadMarks, Role, SafeUrl, Seq, ServerFrame, SiteId, Status,
    PROTOCOL_VERSION,
};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use crate::now_ms;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, SqlStorage, SqlStorageValue, State, Stub,
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
    /// The visitor's browser, in a word or two ("Firefox on Android").
    pub browser: Option<String>,
    /// The site's verified user this conversation belongs to.
    pub user_id: Option<String>,
    /// An outbound conversation: it starts with this first message.
    pub outbound: Option<Outbound>,
}

/// The first message to a contact, from an agent or a program with an agent's token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Outbound {
    /// Who writes it.
    pub author: Assignee,
    /// The conversation becomes theirs (an online agent). A program's is left to routing and
    /// the queue, so whoever is online answers the contact.
    pub take: bool,
    pub body: String,
    /// The caller's id for the message, so a retry writes and emails nothing twice.
    pub client_id: Option<ClientMsgId>,
}

/// "Firefox on Android" from a User-Agent header: enough for an agent to picture the visitor.
pub fn browser_name(user_agent: &str) -> String {
    let browser = [("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .into_iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map_or("A browser", |(_, name)| name);
    let system = [("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("Windows", "Windows"), ("Mac OS", "macOS"), ("Linux", "Linux")]
        .into_iter()
        .find(|(marker, _)| user_agent.contains(marker))
        .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
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
/// Internal header: the key a bot API call presented, checked by the conversation (which
/// knows its site).
pub const BOT_KEY_HEADER: &str = "X-Bot-Key";
/// Sending attempts before the agents are told the email failed.
const EMAIL_ATTEMPTS: u32 = 5;

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
    /// An agent's account.
    #[serde(default)]
    pub agent: Option<Assignee>,
    /// The session an agent's socket was opened with, so signing out closes it.
    #[serde(default)]
    pub session: Option<String>,
}

impl Peer {
    fn author(&self) -> Author {
        match (&self.role, &self.name) {
            (Role::Agent, Some(name)) => Author::Agent { name: name.clone(), id: self.agent.as_ref().map(|a| a.id.clone()) },
            _ => Author::Visitor,
        }
    }

    /// The peer the Worker described with [`peer_query`]. (A verified visitor's user is
    /// checked on connecting and not kept.)
    fn from_query(url: &worker::Url) -> Peer {
        let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
        let role = if param("role").as_deref() == Some("agent") { Role::Agent } else { Role::Visitor };
        let name = param("name").and_then(|n| AgentName::parse(&n).ok());
        let agent = match (&name, param("agent").and_then(|id| AgentId::parse(&id).ok())) {
            (Some(name), Some(id)) if role == Role::Agent => Some(Assignee { id, name: name.clone() }),
            _ => None,
        };
        let session = if agent.is_some() { param("session") } else { None };
        Peer { role, name, user: None, agent, session }
    }

    /// Client ids are unique per author, so one author cannot collide with another's ids.
    fn author_key(&self) -> String {
        match (&self.agent, self.role) {
            (Some(agent), Role::Agent) => format!("agent:{}", agent.id),
            (None, Role::Agent) => BOT_AUTHOR.to_owned(),
            _ => "visitor".to_owned(),
        }
    }
}

/// What a conversation answers the Worker's outbound (`POST /outbound`) when it takes no
/// refusal to the agent: written, or not this conversation's to take because its email is not
/// proven the contact's (the Worker then tries the contact's next, or starts a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutboundAnswer {
    Written,
    NotProven,
}

/// The author key of what the site's bot writes.
const BOT_AUTHOR: &str = "bot";

/// Internal URL the Worker uses to ask the object to accept a connection.
pub fn connect_url(peer: &Peer, after_seq: Seq) -> String {
    format!("https://conversation/connect?{}&after_seq={after_seq}", peer_query(peer))
}

/// Where an agent's message posted over HTTP goes (a `send` or `note` frame as the body).
pub fn post_url(peer: &Peer) -> String {
    format!("https://conversation/post?{}", peer_query(peer))
}

/// Who is connecting or posting, as the Worker checked it, for [`Peer::from_query`].
fn peer_query(peer: &Peer) -> String {
    let mut url = format!("role={}", peer.role.as_str());
    if let Some(name) = &peer.name {
        url.push_str("&name=");
        url.push_str(&protocol::http::percent_encode(name.as_str()));
    }
    if let Some(user) = &peer.user {
        url.push_str("&user=");
        url.push_str(&protocol::http::percent_encode(user));
    }
    if let Some(agent) = &peer.agent {
        url.push_str("&agent=");
        url.push_str(agent.id.as_str());
        if let Some(session) = &peer.session {
            url.push_str("&session=");
            url.push_str(&protocol::http::percent_encode(session));
        }
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
    /// Automation events waiting for the next inbox update to carry them to the site.
    pending_events: RefCell<Vec<WebhookEvent>>,
    /// Every `meta` row, once read (see [`Conversation::meta`]).
    meta_cache: RefCell<Option<HashMap<String, String>>>,
    alarm: crate::alarm::Alarm,
    /// Where the best-effort inbox update stands (see [`Conversation::sync_inbox_logged`]).
    inbox_sync: Cell<InboxSync>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum InboxSync {
    #[default]
    Idle,
    /// An update is on its way to the site.
    Sending,
    /// One is on its way, and something changed since it was read.
    Behind,
}

/// Sets the inbox update back to idle when dropped: at the end of the update, and also when
/// its future is dropped mid-await.
struct IdleWhenDone<'a>(&'a Cell<InboxSync>);

impl Drop for IdleWhenDone<'_> {
    fn drop(&mut self) {
        self.0.set(InboxSync::Idle);
    }
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
    note: i64,
    edited: i64,
    deleted: i64,
    #[serde(default)]
    author_key: String,
}

impl MessageRow {
    fn into_message(self) -> Option<Message> {
        let author = match (self.author_role.as_str(), self.author_name) {
            ("agent", Some(name)) => Author::Agent {
                name: AgentName::parse(&name).ok()?,
                id: self.author_key.strip_prefix("agent:").and_then(|id| AgentId::parse(id).ok()),
            },
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
            note: self.note != 0,
            edited: self.edited != 0,
            deleted: self.deleted != 0,
        })
    }
}

#[derive(Deserialize)]
struct SeqRow {
    seq: i64,
}

#[derive(Deserialize)]
struct KeyValueRow {
    key: String,
    value: String,
}

#[derive(Deserialize)]
struct MaxSeqRow {
    last_seq: Option<i64>,
}

#[derive(Deserialize)]
struct SentAtRow {
    sent_at: i64,
}


/// Whether a conversation in `status` takes new writing, and if not, the refusal that says why.
fn accepts_messages(status: Status) -> std::result::Result<(), ProtocolError> {
    let why = match status {
        Status::Open => return Ok(()),
        Status::Ended => "this conversation has ended",
        Status::Blocked => "this visitor is blocked",
        Status::Deleted => "this conversation was deleted",
    };
    Err(ProtocolError::new(ErrorCode::ConversationClosed, why))
}

fn internal(err: worker::Error) -> ProtocolError {
    worker::console_error!("conversation: {err}");
    ProtocolError::new(ErrorCode::Internal, "the conversation could not do that; nothing was stored")
}

fn forbidden(what: &str) -> ProtocolError {
    ProtocolError::new(ErrorCode::Forbidden, format!("{what} is for agents only"))
}

/// What the visitor waits for, from when (epoch ms).
struct VisitorWaits {
    /// An agent to read their messages: the oldest unread one.
    unread_since: Option<u64>,
    /// A reply: the oldest visitor message after the last public agent message.
    waiting_since: Option<u64>,
}

/// What handling a frame did.
struct Handled {
    /// A message to acknowledge.
    stored: Option<Stored>,
    /// The inbox entry changed.
    inbox_changed: bool,
}

impl Handled {
    fn nothing() -> Handled {
        Handled { stored: None, inbox_changed: false }
    }

    fn inbox() -> Handled {
        Handled { stored: None, inbox_changed: true }
    }
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
    /// A private note between agents.
    note: bool,
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
        let flag = "INTEGER NOT NULL DEFAULT 0";
        crate::schema::add_missing_columns(sql, "messages", &[("note", flag), ("edited", flag), ("deleted", flag)])
    }

    /// A meta value. The object is the only writer of its storage, so every value is read
    /// once per life of the object and kept: a message reads a dozen of them.
    fn meta(&self, key: &str) -> Result<Option<String>> {
        if self.meta_cache.borrow().is_none() {
            let rows: Vec<KeyValueRow> = self.sql().exec("SELECT key, value FROM meta", None)?.to_array()?;
            *self.meta_cache.borrow_mut() = Some(rows.into_iter().map(|r| (r.key, r.value)).collect());
        }
        Ok(self.meta_cache.borrow().as_ref().and_then(|cache| cache.get(key).cloned()))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.sql().exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![key.into(), value.into()],
        )?;
        if let Some(cache) = self.meta_cache.borrow_mut().as_mut() {
            cache.insert(key.to_owned(), value.to_owned());
        }
        Ok(())
    }

    fn delete_meta(&self, keys: &[&str]) -> Result<()> {
        for key in keys {
            // The cache holds every row: a key it lacks costs no statement (a visitor's
            // message clears the email's due time, which is rarely set).
            if self.meta(key)?.is_none() {
                continue;
            }
            self.sql().exec("DELETE FROM meta WHERE key = ?", vec![(*key).into()])?;
            if let Some(cache) = self.meta_cache.borrow_mut().as_mut() {
                cache.remove(*key);
            }
        }
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

    /// When the visitor first wrote, if they have.
    fn visitor_first_wrote_at(&self) -> Result<Option<u64>> {
        let rows: Vec<SentAtRow> =
            self.sql().exec("SELECT sent_at FROM messages WHERE author_role = 'visitor' ORDER BY seq LIMIT 1", None)?.to_array()?;
        Ok(rows.first().map(|r| r.sent_at as u64))
    }

    /// The newest message the visitor can see (private notes are not theirs).
    fn last_public_seq(&self) -> Result<Seq> {
        let row: MaxSeqRow = self.sql().exec("SELECT MAX(seq) AS last_seq FROM messages WHERE note = 0", None)?.one()?;
        Ok(row.last_seq.unwrap_or(0) as Seq)
    }

    /// Messages after a seq, in order; `with_notes` for agents only.
    fn messages_after(&self, after_seq: Seq, limit: usize, with_notes: bool) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, card, suggestions, sent_at, note, edited, deleted, author_key
                 FROM messages WHERE seq > ? AND (note = 0 OR ?) ORDER BY seq LIMIT ?",
                vec![SqlStorageValue::try_from_i64(after_seq as i64)?, (with_notes as i64).into(), (limit as i64).into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().filter_map(MessageRow::into_message).collect())
    }

    /// Edited or deleted messages up to a seq, in order; `with_notes` for agents only.
    fn revised_up_to(&self, seq: Seq, with_notes: bool) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, card, suggestions, sent_at, note, edited, deleted, author_key
                 FROM messages WHERE seq <= ? AND (edited = 1 OR deleted = 1) AND (note = 0 OR ?) ORDER BY seq",
                vec![SqlStorageValue::try_from_i64(seq as i64)?, (with_notes as i64).into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().filter_map(MessageRow::into_message).collect())
    }

    fn message(&self, seq: Seq) -> Result<Option<MessageRow>> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, card, suggestions, sent_at, note, edited, deleted, author_key
                 FROM messages WHERE seq = ?",
                vec![SqlStorageValue::try_from_i64(seq as i64)?],
            )?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    async fn init(&self, request: InitConversation) -> Result<()> {
        if self.meta("created_at")?.is_some() {
            return Ok(());
        }
        let now = now_ms();
        self.set_meta("site", request.site.as_str())?;
        self.set_meta("created_at", &now.to_string())?;
        self.set_meta("status", Status::Open.as_str())?;
        self.set_meta("origin", &request.origin)?;
        if let Some(page) = &request.page_url {
            self.set_meta("page_url", page.as_str())?;
        }
        if let Some(browser) = &request.browser {
            self.set_meta("browser", browser)?;
        }
        if let Some(user) = &request.user_id {
            self.set_meta("user_id", user)?;
        }
        self.store_contact(&request.contact)?;
        self.queue_event(EventKind::ConversationCreated, |_| {})?;
        match request.outbound {
            None => self.sync_inbox(true).await,
            Some(outbound) => {
                // Started by the site writing to this address: whoever reads along here came
                // through the email sent to it.
                self.prove_email()?;
                self.outbound(outbound, true).await.map(|_| ()).map_err(|e| worker::Error::RustError(e.message))
            }
        }
    }

    /// The contact's email is known to reach whoever is in this conversation: the site wrote
    /// to it first, or a reply came from that mailbox. An email typed into the widget proves
    /// nothing: anyone can type anyone's.
    fn prove_email(&self) -> Result<()> {
        match self.contact()?.email {
            Some(email) => self.set_meta("email_proven", email.as_str()),
            None => Ok(()),
        }
    }

    fn email_proven(&self) -> Result<bool> {
        let proven = self.meta("email_proven")?;
        Ok(self.contact()?.email.is_some_and(|email| proven.as_deref() == Some(email.as_str())))
    }

    /// An agent (or a program) writes first to the contact of this conversation (`new`: just
    /// created for it): it opens again if it had ended, becomes the agent's if they take it,
    /// and the message goes out by email at once (the contact is not here). A browser that
    /// holds this conversation shows it the next time the widget opens. Sent again with its
    /// client id, it is already done.
    async fn outbound(&self, outbound: Outbound, new: bool) -> std::result::Result<OutboundAnswer, ProtocolError> {
        let peer = Peer { role: Role::Agent, name: Some(outbound.author.name.clone()), user: None, agent: Some(outbound.author.clone()), session: None };
        if let Some(client_id) = &outbound.client_id {
            if self.known_message(&peer.author_key(), client_id).map_err(internal)?.is_some() {
                return Ok(OutboundAnswer::Written);
            }
        }
        // Someone who typed the contact's address into a chat must not read what the site
        // writes to that address, nor have it mail the contact a link into their chat.
        if !new && !self.email_proven().map_err(internal)? {
            return Ok(OutboundAnswer::NotProven);
        }
        let status = self.status().map_err(internal)?;
        if matches!(status, Status::Blocked | Status::Deleted) {
            return Err(ProtocolError::new(ErrorCode::ConversationClosed, "this contact's conversation is closed for good"));
        }
        // Checked before anything changes: a refused outbound leaves the conversation as it was.
        // An ended conversation's agent is only who handled it last: a new outbound is anyone's.
        let hand_to = match self.assignee().map_err(internal)? {
            Some(current) if current.id != outbound.author.id && status == Status::Open => {
                return Err(ProtocolError::new(
                    ErrorCode::NotResponsible,
                    format!("{} is responsible for this contact's open conversation", current.name),
                ))
            }
            Some(current) if current.id != outbound.author.id => Some(outbound.take.then_some(&outbound.author)),
            None if outbound.take => Some(Some(&outbound.author)),
            _ => None,
        };
        let client_id = match outbound.client_id.clone() {
            Some(client_id) => client_id,
            None => ClientMsgId::parse(&format!("outbound-{}", now_ms())).map_err(|e| ProtocolError::new(ErrorCode::Internal, e.message))?,
        };
        let post = Post { client_id, body: outbound.body.clone(), card: None, suggestions: Vec::new(), note: false };
        // An ended conversation opens again for it; only once it is taken does it change hands.
        let stored = self.store_reopening(&peer, post, true)?;
        if let Some(assignee) = hand_to {
            self.set_assignee(assignee).map_err(internal)?;
        }
        self.broadcast(&ServerFrame::Message { message: stored.message }, None);
        let now = now_ms();
        self.delete_meta(&["email_due_at"]).map_err(internal)?;
        self.set_meta("email_due_at", &now.to_string()).map_err(internal)?;
        self.arm(now).await.map_err(internal)?;
        self.sync_inbox(new).await.map_err(internal)?;
        Ok(OutboundAnswer::Written)
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
        let peer = Peer::from_query(&url);
        let role = peer.role;
        let after_seq: Seq = param("after_seq").and_then(|s| s.parse().ok()).unwrap_or(0);
        // The Worker verified `user` when the site verifies identities; it must be this
        // conversation's user.
        let user = param("user");
        if role == Role::Visitor && user.is_some() && user != self.meta("user_id")? {
            return reply::refuse(&req, ProtocolError::new(ErrorCode::InvalidIdentity, "this is another user's conversation"));
        }

        // The site hears first which session has this conversation open, so that signing
        // that session out cannot miss the socket about to open.
        if let Err(err) = self.tell_site_viewing(&peer, true).await {
            worker::console_error!("conversation: the site did not hear of an agent's connection: {err}");
            return reply::refuse(&req, ProtocolError::new(ErrorCode::Internal, "could not open the conversation; try again"));
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[role.as_str()]);
        pair.server.serialize_attachment(&peer)?;

        let conversation_id = ConversationId::parse(&self.state.id().to_string())
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let is_agent = role == Role::Agent;
        let last_seq = if is_agent { self.last_seq()? } else { self.last_public_seq()? };
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
                assignee: if is_agent { self.assignee()? } else { None },
                muted: peer.agent.as_ref().is_some_and(|me| self.muted().is_ok_and(|m| m.contains(&me.id))),
            },
        );
        let mut cursor = after_seq;
        while cursor < last_seq {
            let page = self.messages_after(cursor, HISTORY_PAGE, is_agent)?;
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            send(&pair.server, &ServerFrame::History { messages: page });
        }
        // What changed in the messages it already has: edits and deletions made while it was
        // away. Few in a conversation, so they are sent as they are, not from a mark.
        if after_seq > 0 {
            for message in self.revised_up_to(after_seq, is_agent)? {
                send(&pair.server, &ServerFrame::Revised { message });
            }
        }
        if role == Role::Agent {
            if let Some(status) = self.meta("email_status")?.and_then(|json| serde_json::from_str(&json).ok()) {
                send(&pair.server, &ServerFrame::EmailFallback { status });
            }
        }
        reply::websocket(pair.client)
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

    /// Sends a frame to every agent connection but `except`.
    fn broadcast_to_agents(&self, frame: &ServerFrame, except: Option<&WebSocket>) {
        let text = frame.encode();
        for socket in self.state.get_websockets_with_tag(Role::Agent.as_str()) {
            if Some(&socket) != except {
                let _ = socket.send_with_str(&text);
            }
        }
    }

    /// A new or revised message goes to whoever may see it: notes to agents only.
    fn publish(&self, frame: &ServerFrame, note: bool, except: Option<&WebSocket>) {
        if note {
            self.broadcast_to_agents(frame, except);
        } else {
            self.broadcast(frame, except);
        }
    }

    // ---- who is responsible ------------------------------------------------------------

    fn assignee(&self) -> Result<Option<Assignee>> {
        Ok(self.meta("assignee")?.and_then(|json| serde_json::from_str(&json).ok()))
    }

    fn set_assignee(&self, assignee: Option<&Assignee>) -> Result<()> {
        match assignee {
            Some(assignee) => {
                // An agent takes over from the site's bot, if it had the conversation.
                self.delete_meta(&["bot"])?;
                self.set_meta("assignee", &serde_json::to_string(assignee).unwrap_or_default())?;
                self.queue_event(EventKind::ConversationAssigned, |e| e.agent = Some(assignee.clone()))?;
            }
            None => {
                self.delete_meta(&["assignee"])?;
            }
        }
        self.broadcast_to_agents(&ServerFrame::Assigned { assignee: assignee.cloned() }, None);
        Ok(())
    }

    /// A public reply needs the responsible agent; replying to a waiting conversation
    /// makes the agent responsible. Returns whether the assignment changed.
    fn claim_for_reply(&self, peer: &Peer) -> std::result::Result<(), ProtocolError> {
        let me = peer.agent.as_ref().ok_or_else(|| forbidden("replying"))?;
        match self.assignee().map_err(internal)? {
            Some(current) if current.id == me.id => Ok(()),
            Some(current) => Err(ProtocolError::new(
                ErrorCode::NotResponsible,
                format!("{} is responsible for this conversation: write a private note instead", current.name),
            )),
            None => self.set_assignee(Some(me)).map_err(internal),
        }
    }

    fn accept(&self, peer: &Peer) -> std::result::Result<(), ProtocolError> {
        let me = peer.agent.as_ref().ok_or_else(|| forbidden("accepting"))?;
        if self.status().map_err(internal)? != Status::Open {
            return Err(ProtocolError::new(ErrorCode::ConversationClosed, "this conversation is closed"));
        }
        match self.assignee().map_err(internal)? {
            Some(current) if current.id == me.id => Ok(()),
            Some(current) => Err(ProtocolError::new(ErrorCode::AlreadyAssigned, format!("{} is already responsible", current.name))),
            None => self.set_assignee(Some(me)).map_err(internal),
        }
    }

    /// The responsible agent (or an admin) hands the conversation on. The target must be an
    /// account of the team; `None` puts it back in the queue.
    async fn transfer(&self, peer: &Peer, to: Option<AgentId>) -> std::result::Result<(), ProtocolError> {
        let me = peer.agent.as_ref().ok_or_else(|| forbidden("transferring"))?;
        let current = self.assignee().map_err(internal)?;
        let someone_elses = current.as_ref().is_some_and(|c| c.id != me.id);
        let team = match someone_elses || to.is_some() {
            true => crate::accounts::list(&self.env).await.map_err(internal)?.accounts,
            false => Vec::new(),
        };
        // An admin's rights are read now, not when their socket opened: one demoted since may not.
        if someone_elses && !team.iter().any(|a| a.id == me.id && a.role == AccountRole::Admin) {
            return Err(ProtocolError::new(ErrorCode::NotResponsible, "only the responsible agent may transfer this conversation"));
        }
        let target = match to {
            None => None,
            Some(id) => {
                let known = team.into_iter().find(|a| a.id == id);
                let known = known.ok_or_else(|| ProtocolError::new(ErrorCode::InvalidId, "no such agent"))?;
                Some(Assignee { id: known.id, name: known.name })
            }
        };
        if current.as_ref().map(|c| &c.id) == target.as_ref().map(|t| &t.id) {
            return Ok(()); // already theirs (or already waiting): no change, no event
        }
        self.set_assignee(target.as_ref()).map_err(internal)?;
        if let Some(target) = target.filter(|t| t.id != me.id) {
            self.alert(&target.id, Alert::Assigned).await;
        }
        Ok(())
    }

    /// The site's reply timeout ran out for `request.from`: the conversation goes on to
    /// `request.to` (the queue when `None`), unless it is no longer theirs or they replied
    /// since the site looked.
    async fn hand_on_unanswered(&self, request: crate::site::ReturnRequest) -> Result<()> {
        let theirs = self.status()? == Status::Open && self.assignee()?.is_some_and(|a| a.id == request.from);
        let (_, waits) = self.inbox_entry()?;
        let unanswered = waits.waiting_since.is_some_and(|since| since <= request.waiting_since);
        if !(theirs && unanswered) {
            return Ok(());
        }
        self.hand_to(request.to).await?;
        self.alert(&request.from, Alert::Returned).await;
        Ok(())
    }

    /// Makes `to` responsible (the queue when `None`): the site's inbox hears it, and so do they.
    async fn hand_to(&self, to: Option<Assignee>) -> Result<()> {
        self.set_assignee(to.as_ref())?;
        self.sync_inbox(false).await?;
        if let Some(to) = to {
            self.alert(&to.id, Alert::Assigned).await;
        }
        Ok(())
    }

    /// An agent's sessions ended or their account was removed: their connections here close,
    /// and a removed agent's responsibility goes on to `gone.to` (the queue when `None`).
    async fn agent_gone(&self, gone: crate::site::AgentGone) -> Result<()> {
        for socket in self.state.get_websockets_with_tag(Role::Agent.as_str()) {
            let Some(peer) = socket.deserialize_attachment::<Peer>().ok().flatten() else { continue };
            if peer.agent.is_some_and(|a| gone.closes(&a.id, peer.session.as_deref())) {
                let _ = socket.close(Some(4401), Some("signed out"));
            }
        }
        let theirs = self.assignee()?.is_some_and(|a| a.id == gone.agent);
        if !(gone.removed && theirs && self.status()? == Status::Open) {
            return Ok(());
        }
        self.hand_to(gone.to).await
    }

    /// Whether `key` is the bot key of this conversation's site.
    fn check_bot_key(&self, key: &str) -> std::result::Result<(), ProtocolError> {
        let site = self.site().map_err(internal)?.ok_or_else(|| ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"))?;
        let secret = config::token_secret(&self.env)?;
        if !token::verify_bot_key(&secret, &site, key) {
            return Err(ProtocolError::new(ErrorCode::Unauthorized, "that is not this site's bot key"));
        }
        Ok(())
    }

    /// The site's bot, if it has this open conversation.
    fn bot(&self) -> std::result::Result<Peer, ProtocolError> {
        if self.status().map_err(internal)? != Status::Open {
            return Err(ProtocolError::new(ErrorCode::ConversationClosed, "this conversation is closed"));
        }
        let name = self.meta("bot").map_err(internal)?.and_then(|name| AgentName::parse(&name).ok());
        let name = name.ok_or_else(|| ProtocolError::new(ErrorCode::Forbidden, "the bot handed this conversation over, or an agent took it"))?;
        Ok(Peer { role: Role::Agent, name: Some(name), user: None, agent: None, session: None })
    }

    /// The site's bot answers the visitor; a retried call gives back the message it stored.
    async fn bot_reply(&self, key: &str, reply: BotReply) -> std::result::Result<Message, ProtocolError> {
        self.check_bot_key(key)?;
        let reply = reply.validated()?;
        // A retried answer that was stored gets its message back, even after the handover.
        if let Some(message) = self.known_message(BOT_AUTHOR, &reply.client_id).map_err(internal)? {
            return Ok(message);
        }
        let peer = self.bot()?;
        let post = Post { client_id: reply.client_id, body: reply.text, card: None, suggestions: reply.suggestions, note: false };
        let stored = self.store(&peer, post)?;
        if stored.new {
            // Out before the await (see `after_storing`); like an agent's reply, emailed if
            // the visitor leaves it unread.
            self.broadcast(&ServerFrame::Message { message: stored.message.clone() }, None);
            if let Err(err) = self.schedule_email().await {
                worker::console_error!("conversation: could not schedule the email fallback: {err}");
            }
            self.sync_inbox_logged().await;
        }
        Ok(stored.message)
    }

    /// The site's bot is done: the conversation joins the agents' queue, where routing may
    /// hand it to the next agent in turn.
    async fn bot_handover(&self, key: &str) -> std::result::Result<(), ProtocolError> {
        self.check_bot_key(key)?;
        if self.meta("bot").map_err(internal)?.is_none() {
            return Ok(()); // handed over already (a retried call), or an agent took it
        }
        self.bot()?;
        self.leave_bot().await.map_err(internal)
    }

    /// Out of the bot's hands (it handed over, or the site no longer has it): into the queue.
    async fn leave_bot(&self) -> Result<()> {
        if self.meta("bot")?.is_none() {
            return Ok(());
        }
        self.delete_meta(&["bot"])?;
        // From now the visitor waits for a person: their first answer is timed from here.
        self.set_meta("queued_at", &crate::now_ms().to_string())?;
        self.sync_inbox(true).await
    }

    /// An agent's new name: their sockets here sign what they write with it, and if they are
    /// responsible, the agents and the inbox show it (no automation runs: nothing was assigned).
    async fn agent_renamed(&self, renamed: Assignee) -> Result<()> {
        for socket in self.state.get_websockets_with_tag(Role::Agent.as_str()) {
            let Some(mut peer) = socket.deserialize_attachment::<Peer>().ok().flatten() else { continue };
            if peer.agent.as_ref().is_some_and(|a| a.id == renamed.id) {
                peer.name = Some(renamed.name.clone());
                peer.agent = Some(renamed.clone());
                socket.serialize_attachment(&peer)?;
            }
        }
        if self.assignee()?.is_some_and(|a| a.id == renamed.id) {
            self.set_meta("assignee", &serde_json::to_string(&renamed)?)?;
            self.broadcast_to_agents(&ServerFrame::Assigned { assignee: Some(renamed) }, None);
            self.sync_inbox(false).await?;
        }
        Ok(())
    }

    /// Tells the site that an agent's session has this conversation open, or no longer has.
    /// Visitors and the bot have no session to sign out.
    async fn tell_site_viewing(&self, peer: &Peer, open: bool) -> Result<()> {
        let (Some(agent), Some(session)) = (&peer.agent, &peer.session) else { return Ok(()) };
        if self.site()?.is_none() {
            return Ok(());
        }
        let viewer = crate::site::Viewer { conversation: self.id()?.to_string(), agent: agent.id.clone(), session: session.clone(), open };
        let stub = self.site_stub().map_err(|e| worker::Error::RustError(e.message))?;
        crate::site::viewer(&stub, &viewer).await
    }

    fn site_stub(&self) -> std::result::Result<worker::Stub, ProtocolError> {
        let site = self.site().map_err(internal)?.ok_or_else(|| ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"))?;
        let namespace = self.env.durable_object("SITE_OBJECTS").map_err(internal)?;
        namespace.id_from_name(site.as_str()).and_then(|id| id.get_stub()).map_err(internal)
    }

    fn id(&self) -> Result<ConversationId> {
        ConversationId::parse(&self.state.id().to_string()).map_err(|e| worker::Error::RustError(e.message))
    }

    /// Tells an agent's consoles something happened, unless they muted this conversation. An alert is a notice, not the change
    /// itself: one that cannot be told is logged, and whatever it was about stands.
    async fn alert(&self, agent: &AgentId, alert: Alert) {
        if let Err(err) = self.try_alert(agent, &alert).await {
            worker::console_error!("conversation: could not alert an agent: {err}");
        }
    }

    async fn try_alert(&self, agent: &AgentId, alert: &Alert) -> Result<()> {
        if self.muted()?.contains(agent) {
            return Ok(());
        }
        let stub = self.site_stub().map_err(|e| worker::Error::RustError(e.message))?;
        crate::site::alert(&stub, agent, &self.id()?, alert).await
    }

    fn muted(&self) -> Result<Vec<AgentId>> {
        Ok(self.meta("muted")?.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default())
    }

    fn set_muted(&self, agent: &AgentId, muted: bool) -> Result<()> {
        let mut list = self.muted()?;
        list.retain(|a| a != agent);
        if muted {
            list.push(agent.clone());
        }
        self.set_meta("muted", &serde_json::to_string(&list).unwrap_or_default())
    }

    /// Alerts the agents a private note mentions.
    async fn alert_mentions(&self, peer: &Peer, body: &str) -> Result<()> {
        let Some(by) = &peer.agent else { return Ok(()) };
        let team = crate::accounts::list(&self.env).await?.accounts;
        let names: Vec<AgentName> = team.iter().map(|a| a.name.clone()).collect();
        for name in protocol::inbox::mentions(body, names.iter()) {
            for agent in team.iter().filter(|a| &a.name == name && a.id != by.id) {
                self.alert(&agent.id, Alert::Mentioned { by: by.name.clone() }).await;
            }
        }
        Ok(())
    }

    // ---- automations -------------------------------------------------------------------

    /// An event about this conversation for the site's automations; none for spam.
    fn event(&self, kind: EventKind) -> Result<Option<WebhookEvent>> {
        let Some(site) = self.site()? else { return Ok(None) };
        if self.status()? == Status::Blocked {
            return Ok(None);
        }
        Ok(Some(WebhookEvent {
            event: kind,
            site,
            // The site names itself when it sends the call.
            site_name: String::new(),
            conversation_id: self.id()?,
            at: now_ms(),
            contact: self.contact()?,
            page_url: self.meta("page_url")?,
            // The conversation's last message; a visitor's message event names its own (and
            // the hot path reads nothing more for it).
            text: match kind {
                EventKind::VisitorMessage => None,
                _ => self.newest_public_message()?.filter(|m| !m.deleted).map(|m| m.body).filter(|b| !b.is_empty()),
            },
            agent: None,
        }))
    }

    /// Keeps an event for the next inbox update, which every change is followed by.
    fn queue_event(&self, kind: EventKind, fill: impl FnOnce(&mut WebhookEvent)) -> Result<()> {
        if let Some(mut event) = self.event(kind)? {
            fill(&mut event);
            self.pending_events.borrow_mut().push(event);
        }
        Ok(())
    }

    // ---- the inbox ---------------------------------------------------------------------

    /// This conversation as the inbox lists it, and what the visitor waits for. Two
    /// statements: this runs after every message.
    fn inbox_entry(&self) -> Result<(InboxEntry, VisitorWaits)> {
        #[derive(Deserialize)]
        struct Unread {
            n: i64,
            since: Option<i64>,
            waiting: Option<i64>,
        }
        let marks = self.read_marks()?;
        // One pass over the visitor's messages after the older of two marks: what agents read,
        // and the last public message of a person (found walking back from the newest; the
        // site's bot answering is not an agent answering). A message taken back counts for
        // neither: it asks nothing, and answers nothing.
        let unread: Unread = self
            .sql()
            .exec(
                "WITH bounds AS (
                   SELECT ? AS read, COALESCE((SELECT seq FROM messages WHERE author_role = 'agent' AND note = 0
                                               AND author_key != 'bot' AND deleted = 0 ORDER BY seq DESC LIMIT 1), 0) AS replied)
                 SELECT COUNT(m.seq) FILTER (WHERE m.seq > b.read) AS n,
                        MIN(m.sent_at) FILTER (WHERE m.seq > b.read) AS since,
                        MIN(m.sent_at) FILTER (WHERE m.seq > b.replied) AS waiting
                 FROM bounds b LEFT JOIN messages m ON m.author_role = 'visitor' AND m.deleted = 0 AND m.seq > MIN(b.read, b.replied)",
                vec![SqlStorageValue::try_from_i64(marks.agent as i64)?],
            )?
            .one()?;
        let created_at = self.created_at()?;
        let newest = self.newest_public_message()?;
        let last = newest.as_ref().map_or(0, |m| m.seq);
        let preview = newest
            .as_ref()
            .map(|m| match (&m.card, m.deleted) {
                (_, true) => String::new(),
                (Some(card), _) if m.body.is_empty() => card.label().to_owned(),
                _ => m.body.chars().take(140).collect(),
            })
            .unwrap_or_default();
        let entry = InboxEntry {
            conversation_id: self.id()?,
            status: self.status()?,
            assignee: self.assignee()?,
            contact: self.contact()?,
            created_at,
            updated_at: newest.map_or(created_at, |m| m.sent_at),
            last_seq: last,
            unread: unread.n as u32,
            preview,
            first_response_at: self.meta("first_response_at")?.and_then(|v| v.parse().ok()),
            first_response_secs: self.meta("first_response_secs")?.and_then(|v| v.parse().ok()),
            ended_at: self.meta("ended_at")?.and_then(|v| v.parse().ok()),
            page_url: self.meta("page_url")?,
            browser: self.meta("browser")?,
            bot: self.meta("bot")?.is_some(),
        };
        let waits = VisitorWaits {
            unread_since: unread.since.filter(|_| unread.n > 0).map(|at| at as u64),
            waiting_since: unread.waiting.map(|at| at as u64),
        };
        Ok((entry, waits))
    }

    fn created_at(&self) -> Result<u64> {
        Ok(self.meta("created_at")?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// The newest message the visitor can see.
    fn newest_public_message(&self) -> Result<Option<Message>> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, card, suggestions, sent_at, note, edited, deleted, author_key
                 FROM messages WHERE note = 0 ORDER BY seq DESC LIMIT 1",
                None,
            )?
            .to_array()?;
        Ok(rows.into_iter().next().and_then(MessageRow::into_message))
    }

    /// Puts this conversation's current entry in the site's inbox (`new`: it just started,
    /// so routing may hand it to an agent).
    async fn sync_inbox(&self, new: bool) -> Result<()> {
        if self.status()? == Status::Deleted {
            return Ok(());
        }
        let put = self.inbox_update(new)?;
        let stub = self.site_stub().map_err(|e| worker::Error::RustError(e.message))?;
        let answer = self.put_entry(&stub, &put).await?;
        if let Some(bot) = &answer.bot {
            // It starts with the site's bot, as the site already lists it.
            self.set_meta("bot", bot.as_str())?;
        }
        if let Some(assignee) = answer.assign {
            // Routing chose an agent: the site already counts them.
            self.set_assignee(Some(&assignee))?;
            self.put_entry(&stub, &self.inbox_update(false)?).await?;
            self.alert(&assignee.id, Alert::Assigned).await;
        }
        self.schedule_auto_close(put.entry.updated_at, answer.auto_close_ms).await
    }

    /// What the site is told: the current entry, what the time limits need, and the
    /// automation events since the last update.
    fn inbox_update(&self, new: bool) -> Result<crate::site::PutEntry> {
        let (entry, waits) = self.inbox_entry()?;
        // Events an earlier update could not deliver go first, in the order they happened.
        let mut events: Vec<WebhookEvent> = self.meta("unsent_events")?.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default();
        events.extend(self.pending_events.take());
        Ok(crate::site::PutEntry {
            unread_since: waits.unread_since,
            waiting_since: waits.waiting_since,
            muted: self.muted()?,
            events,
            new,
            entry,
        })
    }

    /// Sends an update; when the site cannot be reached, the alarm sends the entry again,
    /// with the events this one carried ("retried until delivered") and, for a conversation
    /// the site has not listed yet, as new (so it still meets the bot or routing), and a
    /// handover still reaches the queue.
    async fn put_entry(&self, stub: &Stub, put: &crate::site::PutEntry) -> Result<crate::site::PutAnswer> {
        match crate::site::put_entry(stub, put).await {
            Ok(answer) => {
                let retried = ["unsent_events", "inbox_retry_at", "inbox_retry_new"];
                if retried.iter().any(|key| self.meta(key).is_ok_and(|v| v.is_some())) {
                    self.delete_meta(&retried)?;
                }
                Ok(answer)
            }
            Err(err) => {
                if !put.events.is_empty() {
                    self.set_meta("unsent_events", &serde_json::to_string(&put.events).unwrap_or_default())?;
                }
                if put.new {
                    self.set_meta("inbox_retry_new", "1")?;
                }
                self.try_again_later("inbox_retry_at").await?;
                Err(err)
            }
        }
    }

    /// An open conversation quiet for the site's inactivity period (`after_ms`) ends by
    /// itself, unless the visitor is the one waiting for an answer. Activity only moves the end later, and the alarm looks at the last activity
    /// before it closes anything, so a message writes nothing here: the stored time moves
    /// only when it is missing or the site shortened the period.
    async fn schedule_auto_close(&self, last_activity: u64, after_ms: u64) -> Result<()> {
        if self.status()? != Status::Open {
            return Ok(());
        }
        if self.meta("auto_close_ms")? != Some(after_ms.to_string()) {
            self.set_meta("auto_close_ms", &after_ms.to_string())?;
        }
        let due = last_activity + after_ms;
        let stored: Option<u64> = self.meta("close_at")?.and_then(|v| v.parse().ok());
        if stored.is_some_and(|at| at <= due) {
            return Ok(());
        }
        self.set_meta("close_at", &due.to_string())?;
        self.arm(due).await
    }

    /// When the conversation closes for quiet, counted from its last activity now.
    fn auto_close_due(&self) -> Result<Option<u64>> {
        let Some(after_ms) = self.meta("auto_close_ms")?.and_then(|v| v.parse::<u64>().ok()) else { return Ok(None) };
        let last_activity = self.newest_public_message()?.map_or(self.created_at()?, |m| m.sent_at);
        Ok(Some(last_activity + after_ms))
    }

    /// Best effort after the change is stored and answered: the inbox catches up with the
    /// next change if this fails. One update is on its way at a time: changes made meanwhile
    /// (a burst of messages) go to the site together in one update after it, read fresh when
    /// it is sent, so the site ends with the newest entry and does a fraction of the work.
    async fn sync_inbox_logged(&self) {
        if self.inbox_sync.get() != InboxSync::Idle {
            self.inbox_sync.set(InboxSync::Behind);
            return;
        }
        // Back to idle however this ends, so a failed update never blocks the next ones.
        let _idle = IdleWhenDone(&self.inbox_sync);
        loop {
            self.inbox_sync.set(InboxSync::Sending);
            if let Err(err) = self.sync_inbox(false).await {
                worker::console_error!("conversation: could not update the inbox: {err}");
            }
            if self.inbox_sync.get() != InboxSync::Behind {
                break;
            }
        }
    }

    /// The message an author already wrote with this client id.
    fn known_message(&self, author_key: &str, client_id: &ClientMsgId) -> Result<Option<Message>> {
        let known: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, card, suggestions, sent_at, note, edited, deleted, author_key
                 FROM messages WHERE author_key = ? AND client_id = ?",
                vec![author_key.into(), client_id.as_str().into()],
            )?
            .to_array()?;
        Ok(known.into_iter().next().and_then(MessageRow::into_message))
    }

    /// Stores a message once; a known client id gives back the message it already is.
    fn store(&self, peer: &Peer, post: Post) -> std::result::Result<Stored, ProtocolError> {
        self.store_reopening(peer, post, false)
    }

    /// [`Self::store`]; with `reopen`, an ended conversation opens again for the message, once
    /// nothing else refuses it (a refused message must not leave it open).
    fn store_reopening(&self, peer: &Peer, post: Post, reopen: bool) -> std::result::Result<Stored, ProtocolError> {
        let author_key = peer.author_key();
        let sql = self.sql();
        if let Some(message) = self.known_message(&author_key, &post.client_id).map_err(internal)? {
            return Ok(Stored { message, new: false });
        }
        self.take_message_token(&author_key)?;
        if peer.role == Role::Visitor && (post.card.is_some() || !post.suggestions.is_empty()) {
            return Err(forbidden("sending cards and suggested replies"));
        }
        if reopen && self.status().map_err(internal)? == Status::Ended {
            self.delete_meta(&["erase_at", "close_at"]).map_err(internal)?;
            self.set_status(Status::Open).map_err(internal)?;
        }
        accepts_messages(self.status().map_err(internal)?)?;

        let author = peer.author();
        let sent_at = now_ms();
        let author_name = match &author {
            Author::Agent { name, .. } => SqlStorageValue::from(name.as_str()),
            Author::Visitor => SqlStorageValue::Null,
        };
        let card = post.card.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default());
        let suggestions = (!post.suggestions.is_empty()).then(|| serde_json::to_string(&post.suggestions).unwrap_or_default());
        let row: SeqRow = sql
            .exec(
                "INSERT INTO messages (author_key, client_id, author_role, author_name, body, card, suggestions, sent_at, note)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                vec![
                    author_key.into(),
                    post.client_id.as_str().into(),
                    author.role().as_str().into(),
                    author_name,
                    post.body.as_str().into(),
                    card.into(),
                    suggestions.into(),
                    SqlStorageValue::try_from_i64(sent_at as i64).map_err(internal)?,
                    (post.note as i64).into(),
                ],
            )
            .and_then(|c| c.one())
            .map_err(internal)?;
        let seq = row.seq as Seq;
        // The author has read their own message (and an agent, everything before it).
        if self.reads_for_agents(peer).map_err(internal)? {
            self.mark_read(peer.role, seq).map_err(internal)?;
        }
        // A person's first answer to the visitor: the site's bot does not count, nor does an
        // agent writing first (an outbound conversation is answered once the contact wrote).
        // The visitor waited from their first message, or from when the bot handed them to
        // the queue.
        if peer.role == Role::Agent && peer.agent.is_some() && !post.note && self.meta("first_response_at").map_err(internal)?.is_none() {
            if let Some(wrote_at) = self.visitor_first_wrote_at().map_err(internal)? {
                let queued_at = self.meta("queued_at").map_err(internal)?.and_then(|v| v.parse::<u64>().ok());
                let waited_from = queued_at.map_or(wrote_at, |queued| queued.max(wrote_at));
                self.set_meta("first_response_at", &sent_at.to_string()).map_err(internal)?;
                self.set_meta("first_response_secs", &(sent_at.saturating_sub(waited_from) / 1000).to_string()).map_err(internal)?;
            }
        }
        let message = Message {
            seq,
            client_id: post.client_id,
            author,
            body: post.body,
            card: post.card,
            suggestions: post.suggestions,
            sent_at,
            note: post.note,
            edited: false,
            deleted: false,
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

    /// Whether this peer's reading moves its side's mark. The agents' mark is what the
    /// responsible agent has read (what the inbox's unread count, the escalation and the
    /// visitor's "seen" mean): a colleague reading along, or writing a note, does not move it.
    /// While nobody is responsible, any agent's reading counts.
    fn reads_for_agents(&self, peer: &Peer) -> Result<bool> {
        if peer.role != Role::Agent {
            return Ok(true);
        }
        Ok(match (self.assignee()?, &peer.agent) {
            // The site's bot (no account): what it read, the agent it hands over to has not.
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(assignee), Some(me)) => assignee.id == me.id,
        })
    }

    /// Moves a side's read mark forward (never back, never past the last message).
    /// Returns the new mark when it moved.
    fn mark_read(&self, role: Role, up_to: Seq) -> Result<Option<Seq>> {
        let marks = self.read_marks()?;
        let current = if role == Role::Visitor { marks.visitor } else { marks.agent };
        // Private notes are not the visitor's to read: a note after the last reply must not
        // keep the visitor's read from counting as "read in time".
        let last = if role == Role::Visitor { self.last_public_seq()? } else { self.last_seq()? };
        let up_to = up_to.min(last);
        if up_to <= current {
            return Ok(None);
        }
        let key = if role == Role::Visitor { "visitor_read" } else { "agent_read" };
        self.set_meta(key, &up_to.to_string())?;
        if role == Role::Visitor && up_to >= last {
            // Read in time: no email for this batch.
            self.delete_meta(&["email_due_at"])?;
        }
        Ok(Some(up_to))
    }

    fn set_status(&self, status: Status) -> Result<()> {
        if self.status()? != status {
            if status == Status::Ended {
                self.queue_event(EventKind::ConversationClosed, |_| {})?;
                self.set_meta("ended_at", &crate::now_ms().to_string())?;
            }
            self.set_meta("status", status.as_str())?;
            self.broadcast(&ServerFrame::Status { status }, None);
        }
        Ok(())
    }

    /// A message was stored (or a resent one found): a new agent reply may need an email
    /// later, a visitor's goes to the automations, and everyone else hears it. The socket it
    /// came on gets its ack; one posted over HTTP gets the message as the answer.
    async fn after_storing(&self, peer: &Peer, stored: &Stored, from: Option<&WebSocket>) -> Result<()> {
        let message = &stored.message;
        if stored.new {
            if peer.role == Role::Visitor {
                let text = message.body.clone();
                self.queue_event(EventKind::VisitorMessage, |e| e.text = Some(text))?;
            }
            // Out before anything here awaits: an await that reaches another object lets the
            // next message in, and it must not be sent first. A client that got seq N+1 and
            // reconnected after it would never be sent N.
            self.publish(&ServerFrame::Message { message: message.clone() }, message.note, from);
            // The email's due time and the alarm are stored before the ack goes out: the
            // output gate holds the ack until they are durable, so an acknowledged reply is
            // never left without its email.
            if peer.role == Role::Agent && !message.note {
                if let Err(err) = self.schedule_email().await {
                    worker::console_error!("conversation: could not schedule the email fallback: {err}");
                }
            }
            if message.note {
                // A mention that cannot be told is logged: the note stands.
                if let Err(err) = self.alert_mentions(peer, &message.body).await {
                    worker::console_error!("conversation: could not alert the agents mentioned in a note: {err}");
                }
            }
        }
        if let Some(ws) = from {
            send(ws, &ServerFrame::Ack { client_id: message.client_id.clone(), seq: message.seq, sent_at: message.sent_at });
        }
        Ok(())
    }

    /// An agent's message or note posted over HTTP (programs that keep no socket open): the
    /// same rules as over a socket; a resent client id answers the stored message, 200.
    async fn posted(&self, peer: &Peer, text: &str) -> std::result::Result<Stored, ProtocolError> {
        if !self.exists().map_err(internal)? {
            return Err(ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"));
        }
        let frame = ClientFrame::decode(text)?;
        if !matches!(frame, ClientFrame::Send { .. } | ClientFrame::Note { .. }) {
            return Err(ProtocolError::new(ErrorCode::MalformedFrame, "post a send or note frame; the rest goes over a connection"));
        }
        let handled = self.handle(None, peer, frame).await?;
        let stored = handled.stored.ok_or_else(|| internal("a post stored nothing".into()))?;
        self.after_storing(peer, &stored, None).await.map_err(internal)?;
        if stored.new && handled.inbox_changed {
            self.sync_inbox_logged().await;
        }
        Ok(stored)
    }

    /// Handles one frame; a message it stored comes back to be acknowledged.
    /// `from` is the socket it came on (none for a message posted over HTTP).
    async fn handle(&self, from: Option<&WebSocket>, peer: &Peer, frame: ClientFrame) -> std::result::Result<Handled, ProtocolError> {
        let agent_only = |what: &str| if peer.role == Role::Agent { Ok(()) } else { Err(forbidden(what)) };
        match frame {
            ClientFrame::Send { client_id, body, card, suggestions } => {
                // A resend of a stored message is answered as stored, whoever is responsible now.
                let resend = self.known_message(&peer.author_key(), &client_id).map_err(internal)?.is_some();
                if !resend && peer.role == Role::Agent && self.status().map_err(internal)? == Status::Open {
                    self.claim_for_reply(peer)?;
                }
                let stored = self.store(peer, Post { client_id, body, card, suggestions, note: false })?;
                return Ok(Handled { stored: Some(stored), inbox_changed: true });
            }
            ClientFrame::Note { client_id, body } => {
                agent_only("writing private notes")?;
                let stored = self.store(peer, Post { client_id, body, card: None, suggestions: Vec::new(), note: true })?;
                // The responsible agent writing a note has read what came before.
                return Ok(Handled { stored: Some(stored), inbox_changed: true });
            }
            ClientFrame::Typing { active } => {
                self.broadcast(&ServerFrame::Typing { author: peer.author(), active }, from);
                return Ok(Handled::nothing());
            }
            ClientFrame::Read { up_to } => {
                if !self.reads_for_agents(peer).map_err(internal)? {
                    return Ok(Handled::nothing());
                }
                if let Some(up_to) = self.mark_read(peer.role, up_to).map_err(internal)? {
                    self.broadcast(&ServerFrame::Read { role: peer.role, up_to }, None);
                    return Ok(Handled::inbox());
                }
                return Ok(Handled::nothing());
            }
            ClientFrame::SetContact { contact } => {
                if peer.role != Role::Visitor {
                    return Err(ProtocolError::new(ErrorCode::Forbidden, "only the visitor sets their contact details"));
                }
                self.visitor_may_write(peer)?;
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
            ClientFrame::Block => match self.status().map_err(internal)? {
                Status::Open | Status::Ended => self.set_status(Status::Blocked).map_err(internal)?,
                // Blocked already; or erased, which nothing brings back.
                Status::Blocked | Status::Deleted => return Ok(Handled::nothing()),
            },
            ClientFrame::Accept => {
                agent_only("accepting")?;
                self.accept(peer)?;
            }
            ClientFrame::Transfer { to } => {
                agent_only("transferring")?;
                self.transfer(peer, to).await?;
            }
            ClientFrame::Subscribe { on } => {
                let me = peer.agent.as_ref().ok_or_else(|| forbidden("muting alerts"))?;
                self.set_muted(&me.id, !on).map_err(internal)?;
                // The site sends the unanswered alerts, so it hears who muted them.
                return Ok(Handled::inbox());
            }
            ClientFrame::Edit { seq, body } => self.revise(peer, seq, Some(body))?,
            ClientFrame::Retract { seq } => self.revise(peer, seq, None)?,
            // Handled before this (it needs the site): see `websocket_message`.
            ClientFrame::DeleteMyData => return Ok(Handled::nothing()),
            ClientFrame::SetStatus { .. } => {
                return Err(ProtocolError::new(
                    ErrorCode::Forbidden,
                    "presence is set on the site connection, not on a conversation",
                ))
            }
            ClientFrame::Ping => {
                if let Some(ws) = from {
                    send(ws, &ServerFrame::Pong);
                }
                return Ok(Handled::nothing());
            }
        }
        Ok(Handled::inbox())
    }

    /// A visitor changes nothing in a conversation that is not open: an ended one stays as
    /// it ended (writing again starts a new one), a blocked visitor can no longer write.
    fn visitor_may_write(&self, peer: &Peer) -> std::result::Result<(), ProtocolError> {
        if peer.role != Role::Visitor {
            return Ok(());
        }
        accepts_messages(self.status().map_err(internal)?)
    }

    /// The author edits (`Some(body)`) or takes back (`None`) their own message; everyone
    /// who can see it gets the revised message.
    fn revise(&self, peer: &Peer, seq: Seq, body: Option<String>) -> std::result::Result<(), ProtocolError> {
        let row = self.message(seq).map_err(internal)?.ok_or_else(|| ProtocolError::new(ErrorCode::InvalidId, "no message with that seq"))?;
        if row.author_key != peer.author_key() {
            return Err(ProtocolError::new(ErrorCode::Forbidden, "only its author may change a message"));
        }
        if row.deleted != 0 {
            return Err(ProtocolError::new(ErrorCode::ConversationClosed, "that message was deleted"));
        }
        self.visitor_may_write(peer)?;
        // An edit is sent to everyone like a message, so it counts as one.
        self.take_message_token(&row.author_key)?;
        let seq_value = SqlStorageValue::try_from_i64(seq as i64).map_err(internal)?;
        match &body {
            Some(body) => self.sql().exec("UPDATE messages SET body = ?, edited = 1 WHERE seq = ?", vec![body.as_str().into(), seq_value]),
            None => self.sql().exec(
                "UPDATE messages SET body = '', card = NULL, suggestions = NULL, deleted = 1 WHERE seq = ?",
                vec![seq_value],
            ),
        }
        .map_err(internal)?;
        let revised = self.message(seq).map_err(internal)?.and_then(MessageRow::into_message);
        if let Some(message) = revised {
            let note = message.note;
            self.publish(&ServerFrame::Revised { message }, note, None);
        }
        Ok(())
    }

    // ---- privacy ----------------------------------------------------------------------

    /// Erases the conversation: its messages, the visitor's contact, every pending email;
    /// the site forgets it; everyone connected hears `deleted` and is disconnected.
    async fn erase(&self) -> Result<()> {
        if self.status()? == Status::Deleted {
            // Erased already: nothing to erase, nothing to tell again, unless the site has
            // not heard yet.
            return self.tell_site_it_is_erased().await;
        }
        // Told to the site's automations, without what it erases.
        let erased = self.event(EventKind::ConversationErased)?.map(|event| WebhookEvent { contact: Contact::default(), page_url: None, text: None, ..event });
        let sql = self.sql();
        sql.exec("DELETE FROM messages", None)?;
        sql.exec("DELETE FROM meta WHERE key NOT IN ('site', 'created_at', 'origin')", None)?;
        *self.meta_cache.borrow_mut() = None;
        self.set_meta("status", Status::Deleted.as_str())?;
        if self.site()?.is_some() {
            // Kept until the site has forgotten the conversation (its inbox row holds the
            // contact): a failed call is tried again by the alarm and by the next erase.
            self.set_meta("unforgotten", &serde_json::to_string(&erased)?)?;
            if let Err(err) = self.tell_site_it_is_erased().await {
                worker::console_error!("conversation: the site did not hear of the erasure: {err}");
            }
        }
        let frame = ServerFrame::Status { status: Status::Deleted }.encode();
        for socket in self.state.get_websockets() {
            let _ = socket.send_with_str(&frame);
            let _ = socket.close(Some(1000), Some("deleted"));
        }
        Ok(())
    }

    /// The site forgets an erased conversation (its inbox row, its user's mapping) and its
    /// automations hear of the erasure; until that worked, the alarm tries again.
    async fn tell_site_it_is_erased(&self) -> Result<()> {
        let Some(unforgotten) = self.meta("unforgotten")? else { return Ok(()) };
        let erased: Option<WebhookEvent> = serde_json::from_str(&unforgotten).unwrap_or_default();
        let stub = self.site_stub().map_err(|e| worker::Error::RustError(e.message))?;
        match crate::site::forget_conversation(&stub, &self.state.id().to_string(), erased).await {
            Ok(_) => self.delete_meta(&["unforgotten", "forget_retry_at"]),
            Err(err) => {
                self.try_again_later("forget_retry_at").await?;
                Err(err)
            }
        }
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
        if self.site()?.is_none() {
            return Ok(Default::default());
        }
        let stub = self.site_stub().map_err(|e| worker::Error::RustError(e.message))?;
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

    /// The alarm fires by `due`, or earlier for something else.
    async fn arm(&self, due: u64) -> Result<()> {
        self.alarm.arm(&self.state.storage(), due).await
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
        let unsubscribe = format!("{origin}/api/email/unsubscribe?token={}", token::unsubscribe::sign(&secret, conversation));
        Ok(Some((resume, fallback, unsubscribe)))
    }

    /// The alarm found the email due: one email for every agent message still unread.
    async fn send_unread_email(&self) -> Result<()> {
        let marks = self.read_marks()?;
        let notified: Seq = self.meta("notified_up_to")?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let after = marks.visitor.max(notified);
        let history = self.messages_after(0, 100_000, false)?;
        let unread: Vec<Message> =
            history.iter().filter(|m| m.seq > after && m.author.role() == Role::Agent && !m.deleted).cloned().collect();
        let Some(up_to) = unread.last().map(|m| m.seq) else { return Ok(()) };
        // A visitor marked as spam gets nothing more from the site, by email neither.
        if matches!(self.status()?, Status::Blocked | Status::Deleted) {
            self.set_meta("notified_up_to", &up_to.to_string())?;
            return Ok(());
        }
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
                self.delete_meta(&["email_attempts"])?;
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
                    self.delete_meta(&["email_attempts"])?;
                    self.tell_agents(EmailStatus::Failed { reason });
                }
            }
        }
        Ok(())
    }

    /// After the alarm ended a quiet conversation: its retention and the site's inbox (which
    /// frees its agent). The status is already stored, so a failure here is tried again by
    /// the alarm rather than left for a retry that would find the conversation ended.
    async fn tell_site_it_closed(&self) -> Result<()> {
        // The inbox first: a failed update keeps the "closed" event in storage for its retry.
        let told = async {
            self.sync_inbox(false).await?;
            self.schedule_retention().await
        };
        if let Err(err) = told.await {
            worker::console_error!("conversation: the site did not hear it closed: {err}");
            self.tell_site_it_closed_later().await?;
        }
        Ok(())
    }

    async fn tell_site_it_closed_later(&self) -> Result<()> {
        self.try_again_later("closed_retry_at").await
    }

    /// A call to the site failed: the alarm tries it again after the retry delay, when the
    /// due time stored under `key` has come.
    async fn try_again_later(&self, key: &str) -> Result<()> {
        let retry = now_ms() + config::webhook_retry_base_ms(&self.env);
        self.set_meta(key, &retry.to_string())?;
        self.arm(retry).await
    }

    /// A reply by email: stored as the visitor's message (once per mail), passed on live.
    fn inbound(&self, reply: InboundReply) -> std::result::Result<Message, ProtocolError> {
        let peer = Peer { role: Role::Visitor, name: None, user: None, agent: None, session: None };
        let post = Post { client_id: reply.client_id, body: reply.body, card: None, suggestions: Vec::new(), note: false };
        // The visitor answers the email after the chat ended (for quiet, often): the
        // conversation the email belongs to opens again instead of refusing the reply.
        let stored = self.store_reopening(&peer, post, true)?;
        if stored.new {
            let text = stored.message.body.clone();
            self.queue_event(EventKind::VisitorMessage, |e| e.text = Some(text)).map_err(internal)?;
            self.broadcast(&ServerFrame::Message { message: stored.message.clone() }, None);
            // Only the mailbox the emails went to could answer them.
            self.prove_email().map_err(internal)?;
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
        Self { state, env, buckets: RefCell::new(HashMap::new()), meta_cache: RefCell::new(None), alarm: Default::default(), pending_events: Default::default(), inbox_sync: Default::default() }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.url()?.path().to_owned();
        match (req.method(), path.as_str()) {
            (Method::Post, "/post") => {
                let peer = Peer::from_query(&req.url()?);
                match self.posted(&peer, &req.text().await?).await {
                    Ok(stored) => reply::json(&stored.message, if stored.new { 201 } else { 200 }),
                    Err(err) => reply::http_error(err),
                }
            }
            (Method::Post, "/init") => {
                self.init(req.json().await?).await?;
                Response::empty()
            }
            (Method::Post, "/outbound") => {
                if !self.exists()? {
                    return reply::http_error(ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"));
                }
                match self.outbound(req.json().await?, false).await {
                    Ok(answer) => reply::json(&answer, 200),
                    Err(err) => reply::http_error(err),
                }
            }
            (Method::Post, "/assign") => {
                // Routing chose an agent for this waiting conversation.
                let assignee: Assignee = req.json().await?;
                if self.status()? == Status::Open && self.assignee()?.is_none() {
                    self.hand_to(Some(assignee)).await?;
                } else {
                    // Taken meanwhile: the site's list, which chose for it, learns by whom.
                    self.sync_inbox_logged().await;
                }
                Response::empty()
            }
            (Method::Post, "/bot-reply") => {
                let key = req.headers().get(BOT_KEY_HEADER)?.unwrap_or_default();
                match self.bot_reply(&key, req.json().await?).await {
                    Ok(message) => reply::json(&message, 200),
                    Err(err) => reply::http_error(err),
                }
            }
            (Method::Post, "/bot-handover") => {
                let key = req.headers().get(BOT_KEY_HEADER)?.unwrap_or_default();
                match self.bot_handover(&key).await {
                    Ok(()) => Response::empty(),
                    Err(err) => reply::http_error(err),
                }
            }
            (Method::Post, "/bot-gone") => {
                self.leave_bot().await?;
                Response::empty()
            }
            (Method::Post, "/agent-renamed") => {
                self.agent_renamed(req.json().await?).await?;
                Response::empty()
            }
            (Method::Post, "/agent-gone") => {
                self.agent_gone(req.json().await?).await?;
                Response::empty()
            }
            (Method::Post, "/return") => {
                self.hand_on_unanswered(req.json().await?).await?;
                Response::empty()
            }
            (Method::Post, "/inbound") => {
                if !self.exists()? {
                    return reply::http_error(ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"));
                }
                let reply: InboundReply = req.json().await?;
                match self.inbound(reply) {
                    Ok(message) => {
                        self.sync_inbox_logged().await;
                        reply::json(&message, 200)
                    }
                    Err(err) => reply::http_error(err),
                }
            }
            (Method::Get, "/status") => Response::ok(self.status()?.as_str()),
            (Method::Post, "/erase") => {
                if !self.exists()? {
                    return reply::http_error(ProtocolError::new(ErrorCode::UnknownConversation, "no such conversation"));
                }
                // For good, so not a colleague's to do: an admin, the responsible agent, or
                // anyone while nobody is.
                let url = req.url()?;
                let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
                let admin = param("admin").as_deref() == Some("1");
                let by = param("agent");
                if let Some(current) = self.assignee()?.filter(|current| !admin && by.as_deref() != Some(current.id.as_str())) {
                    return reply::http_error(ProtocolError::new(
                        ErrorCode::NotResponsible,
                        format!("{} is responsible for this conversation: they or an admin can delete its data", current.name),
                    ));
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
            ClientFrame::Send { client_id, .. } | ClientFrame::Note { client_id, .. } => Some(client_id.clone()),
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
        match self.handle(Some(&ws), &peer, frame).await {
            Ok(handled) => {
                if let Some(stored) = &handled.stored {
                    self.after_storing(&peer, stored, Some(&ws)).await?;
                    if !stored.new {
                        return Ok(());
                    }
                }
                if handled.inbox_changed {
                    self.sync_inbox_logged().await;
                }
                if closes {
                    if let Err(err) = self.schedule_retention().await {
                        // Its retention asks the site for its settings: tried again by the
                        // alarm, with the inbox (whose own failure the alarm retries too).
                        worker::console_error!("conversation: could not schedule retention: {err}");
                        self.tell_site_it_closed_later().await?;
                    }
                }
            }
            Err(err) => send(&ws, &ServerFrame::error(err, client_id)),
        }
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        // Alarms fire at least once: everything here checks its due time and is idempotent,
        // and the alarm is re-armed for whatever is still ahead.
        self.alarm.fired();
        let due_at = |key: &str| -> Result<Option<u64>> { Ok(self.meta(key)?.and_then(|v| v.parse().ok())) };
        if let Some(due) = due_at("email_due_at")? {
            if due <= now_ms() {
                self.delete_meta(&["email_due_at"])?;
                if let Err(err) = self.send_unread_email().await {
                    // Nothing was mailed (what was, is marked and not sent again): later.
                    worker::console_error!("conversation: could not prepare the unread email: {err}");
                    let retry = now_ms() + config::email_retry_base_ms(&self.env);
                    self.set_meta("email_due_at", &retry.to_string())?;
                }
            }
        }
        if due_at("inbox_retry_at")?.is_some_and(|due| due <= now_ms()) {
            let new = self.meta("inbox_retry_new")?.is_some();
            self.delete_meta(&["inbox_retry_at", "inbox_retry_new"])?;
            // On failure this stores the time of its next try.
            if let Err(err) = self.sync_inbox(new).await {
                worker::console_error!("conversation: the inbox update failed again: {err}");
            }
        }
        if due_at("forget_retry_at")?.is_some_and(|due| due <= now_ms()) {
            self.delete_meta(&["forget_retry_at"])?;
            // On failure this stores the time of its next try.
            if let Err(err) = self.tell_site_it_is_erased().await {
                worker::console_error!("conversation: the site did not hear of the erasure again: {err}");
            }
        }
        if due_at("closed_retry_at")?.is_some_and(|due| due <= now_ms()) {
            self.delete_meta(&["closed_retry_at"])?;
            self.tell_site_it_closed().await?;
        }
        if due_at("close_at")?.is_some_and(|due| due <= now_ms()) {
            let open = self.status()? == Status::Open;
            match self.auto_close_due()?.filter(|&at| at > now_ms()) {
                // Written to since the time was stored: not quiet yet.
                Some(later) if open => self.set_meta("close_at", &later.to_string())?,
                // The visitor waits for an answer (left overnight, say): quiet is the agents',
                // and closing would take it out of the queue. The next reply counts again.
                _ if open && self.inbox_entry()?.1.waiting_since.is_some() => self.delete_meta(&["close_at"])?,
                _ => {
                    self.delete_meta(&["close_at"])?;
                    if open {
                        // Quiet too long: ended, as if an agent ended it; both sides see it.
                        self.set_status(Status::Ended)?;
                        self.tell_site_it_closed().await?;
                    }
                }
            }
        }
        if let Some(due) = due_at("erase_at")? {
            if due <= now_ms() {
                self.erase().await?;
            }
        }
        let ahead =
            [due_at("email_due_at")?, due_at("close_at")?, due_at("erase_at")?, due_at("inbox_retry_at")?, due_at("closed_retry_at")?, due_at("forget_retry_at")?]
                .into_iter()
                .flatten()
                .min();
        if let Some(due) = ahead {
            self.arm(due).await?;
        }
        Response::empty()
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        // Completes the closing handshake; 1005/1006 are not allowed as close codes to send.
        let code = if code == 1005 || code == 1006 { 1000 } else { code as u16 };
        let _ = ws.close(Some(code), Some("closing"));
        // The session's last socket here: the site no longer needs to reach this conversation
        // for it.
        let peer = ws.deserialize_attachment::<Peer>().ok().flatten();
        if let Some(peer) = peer.filter(|p| p.agent.is_some() && p.session.is_some()) {
            let open = worker::web_sys::WebSocket::OPEN;
            // A session's tag is its token's: the same tag is the same agent.
            let same_session = |other: &WebSocket| {
                other.as_ref().ready_state() == open
                    && other.deserialize_attachment::<Peer>().ok().flatten().is_some_and(|p| p.session == peer.session)
            };
            let still_open = self.state.get_websockets_with_tag(Role::Agent.as_str()).iter().any(|other| other != &ws && same_session(other));
            if !still_open {
                if let Err(err) = self.tell_site_viewing(&peer, false).await {
                    worker::console_warn!("conversation: the site did not hear an agent's connection closed: {err}");
                }
            }
        }
        Ok(())
    }

    async fn websocket_error(&self, _ws: WebSocket, err: worker::Error) -> Result<()> {
        worker::console_warn!("conversation: socket error: {err}");
        Ok(())
    }
}
