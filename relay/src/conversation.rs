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
//! Visitors and agents connect through the WebSocket hibernation API, tagged by role, with
//! their identity in the socket attachment, so the object sleeps between messages without
//! dropping anyone. On connect it replays exactly the messages after `after_seq`. Typing
//! indicators are relayed and never stored.

use crate::reply;
use protocol::limits::HISTORY_PAGE;
use protocol::{
    AgentName, Author, Card, ClientFrame, ClientMsgId, Contact, ConversationId, Email, ErrorCode, Message,
    ProtocolError, ReadMarks, Role, Seq, ServerFrame, SiteId, Status, PROTOCOL_VERSION,
};
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, Date, DurableObject, Env, Method, Request, Response, Result, SqlStorage, SqlStorageValue, State,
    WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

/// Internal request from the Worker: the conversation was just created for this site.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitConversation {
    pub site: SiteId,
    pub contact: Contact,
}

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
    url
}

#[durable_object]
pub struct Conversation {
    state: State,
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
    sent_at: i64,
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
        let peer = Peer { role, name };

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

    /// Stores a message once and acknowledges it; a known client id gets its original ack.
    fn post(&self, sender: &WebSocket, peer: &Peer, post: Post) -> std::result::Result<(), ProtocolError> {
        let author_key = peer.author_key();
        let sql = self.sql();
        let known: Vec<SeqRow> = sql
            .exec(
                "SELECT seq, sent_at FROM messages WHERE author_key = ? AND client_id = ?",
                vec![author_key.as_str().into(), post.client_id.as_str().into()],
            )
            .and_then(|c| c.to_array())
            .map_err(internal)?;
        if let Some(row) = known.into_iter().next() {
            send(sender, &ServerFrame::Ack { client_id: post.client_id, seq: row.seq as Seq, sent_at: row.sent_at as u64 });
            return Ok(());
        }
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq, sent_at",
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
        send(sender, &ServerFrame::Ack { client_id: post.client_id.clone(), seq, sent_at });

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
        self.broadcast(&ServerFrame::Message { message }, Some(sender));
        Ok(())
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
        Ok(Some(up_to))
    }

    fn set_status(&self, status: Status) -> Result<()> {
        if self.status()? != status {
            self.set_meta("status", status.as_str())?;
            self.broadcast(&ServerFrame::Status { status }, None);
        }
        Ok(())
    }

    fn handle(&self, ws: &WebSocket, peer: &Peer, frame: ClientFrame) -> std::result::Result<(), ProtocolError> {
        match frame {
            ClientFrame::Send { client_id, body, card, suggestions } => {
                self.post(ws, peer, Post { client_id, body, card, suggestions })
            }
            ClientFrame::Typing { active } => {
                self.broadcast(&ServerFrame::Typing { author: peer.author(), active }, Some(ws));
                Ok(())
            }
            ClientFrame::Read { up_to } => {
                if let Some(up_to) = self.mark_read(peer.role, up_to).map_err(internal)? {
                    self.broadcast(&ServerFrame::Read { role: peer.role, up_to }, None);
                }
                Ok(())
            }
            ClientFrame::SetContact { contact } => {
                if peer.role != Role::Visitor {
                    return Err(ProtocolError::new(ErrorCode::Forbidden, "only the visitor sets their contact details"));
                }
                self.store_contact(&contact).map_err(internal)?;
                self.broadcast(&ServerFrame::Contact { contact: self.contact().map_err(internal)? }, None);
                Ok(())
            }
            ClientFrame::End | ClientFrame::Block if peer.role != Role::Agent => Err(forbidden("ending or blocking")),
            ClientFrame::End => {
                if self.status().map_err(internal)? == Status::Open {
                    self.set_status(Status::Ended).map_err(internal)?;
                }
                Ok(())
            }
            ClientFrame::Block => self.set_status(Status::Blocked).map_err(internal),
            ClientFrame::SetStatus { .. } => Err(ProtocolError::new(
                ErrorCode::Forbidden,
                "presence is set on the site connection, not on a conversation",
            )),
            ClientFrame::Ping => {
                send(ws, &ServerFrame::Pong);
                Ok(())
            }
        }
    }
}

fn send(ws: &WebSocket, frame: &ServerFrame) {
    if let Err(err) = ws.send_with_str(frame.encode()) {
        worker::console_warn!("conversation: could not send to a socket: {err}");
    }
}

impl DurableObject for Conversation {
    fn new(state: State, _env: Env) -> Self {
        if let Err(err) = Self::migrate(&state.storage().sql()) {
            worker::console_error!("conversation: migration failed: {err}");
        }
        // Keep-alives are answered by the runtime without waking the object.
        if let Ok(pair) = worker::worker_sys::WebSocketRequestResponsePair::new(ClientFrame::PING_TEXT, ServerFrame::PONG_TEXT) {
            state.set_websocket_auto_response(&pair);
        }
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.url()?.path().to_owned();
        match (req.method(), path.as_str()) {
            (Method::Post, "/init") => {
                let request: InitConversation = req.json().await?;
                reply::json(&self.init(request)?, 200)
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
        if let Err(err) = self.handle(&ws, &peer, frame) {
            send(&ws, &ServerFrame::error(err, client_id));
        }
        Ok(())
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
