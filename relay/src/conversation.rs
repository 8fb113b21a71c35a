//! The `Conversation` Durable Object: one per conversation, the only writer of its messages.
//!
//! Storage is the object's SQLite database:
//! - `meta` holds the site and creation time (set once by `/init`; a conversation without it
//!   does not exist, whatever its id);
//! - `messages` holds every message with its `seq` (AUTOINCREMENT, so strictly increasing and
//!   never reused) and its client id, unique per author: a resend is acknowledged with the seq
//!   it already has and stores nothing.
//!
//! Visitors and agents connect through the WebSocket hibernation API, tagged by role, with their
//! identity in the socket attachment, so the object can sleep between messages without
//! dropping anyone. On connect, the object replays exactly the messages after `after_seq`.

use crate::reply;
use protocol::limits::HISTORY_PAGE;
use protocol::{
    AgentName, Author, ClientFrame, ClientMsgId, ConversationId, ErrorCode, Message, ProtocolError, Role, Seq,
    ServerFrame, SiteId, PROTOCOL_VERSION,
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

    fn exists(&self) -> Result<bool> {
        Ok(self.meta("site")?.is_some())
    }

    fn last_seq(&self) -> Result<Seq> {
        let row: MaxSeqRow = self.sql().exec("SELECT MAX(seq) AS last_seq FROM messages", None)?.one()?;
        Ok(row.last_seq.unwrap_or(0) as Seq)
    }

    fn messages_after(&self, after_seq: Seq, limit: usize) -> Result<Vec<Message>> {
        let rows: Vec<MessageRow> = self
            .sql()
            .exec(
                "SELECT seq, client_id, author_role, author_name, body, sent_at FROM messages
                 WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![SqlStorageValue::try_from_i64(after_seq as i64)?, (limit as i64).into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().filter_map(MessageRow::into_message).collect())
    }

    fn init(&self, request: InitConversation) -> Result<ConversationInitialised> {
        let created_at = match self.meta("created_at")? {
            Some(existing) => existing.parse().unwrap_or_default(),
            None => {
                let now = now_ms();
                let sql = self.sql();
                sql.exec("INSERT INTO meta (key, value) VALUES ('site', ?)", vec![request.site.as_str().into()])?;
                sql.exec("INSERT INTO meta (key, value) VALUES ('created_at', ?)", vec![now.to_string().into()])?;
                now
            }
        };
        Ok(ConversationInitialised { created_at })
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
        send(&pair.server, &ServerFrame::Welcome { v: PROTOCOL_VERSION, conversation_id, role, last_seq });
        let mut cursor = after_seq;
        while cursor < last_seq {
            let page = self.messages_after(cursor, HISTORY_PAGE)?;
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            send(&pair.server, &ServerFrame::History { messages: page });
        }
        Response::from_websocket(pair.client)
    }

    /// Stores a message once and acknowledges it; a known client id gets its original ack.
    fn post(&self, sender: &WebSocket, peer: &Peer, client_id: ClientMsgId, body: String) -> Result<()> {
        let author_key = peer.author_key();
        let sql = self.sql();
        let known: Vec<SeqRow> = sql
            .exec(
                "SELECT seq, sent_at FROM messages WHERE author_key = ? AND client_id = ?",
                vec![author_key.as_str().into(), client_id.as_str().into()],
            )?
            .to_array()?;
        if let Some(row) = known.into_iter().next() {
            send(sender, &ServerFrame::Ack { client_id, seq: row.seq as Seq, sent_at: row.sent_at as u64 });
            return Ok(());
        }

        let author = peer.author();
        let sent_at = now_ms();
        let author_name = match &author {
            Author::Agent { name } => SqlStorageValue::from(name.as_str()),
            Author::Visitor => SqlStorageValue::Null,
        };
        let row: SeqRow = sql
            .exec(
                "INSERT INTO messages (author_key, client_id, author_role, author_name, body, sent_at)
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING seq, sent_at",
                vec![
                    author_key.into(),
                    client_id.as_str().into(),
                    author.role().as_str().into(),
                    author_name,
                    body.as_str().into(),
                    SqlStorageValue::try_from_i64(sent_at as i64)?,
                ],
            )?
            .one()?;
        let seq = row.seq as Seq;
        send(sender, &ServerFrame::Ack { client_id: client_id.clone(), seq, sent_at });

        let frame = ServerFrame::Message { message: Message { seq, client_id, author, body, sent_at } }.encode();
        for socket in self.state.get_websockets() {
            if &socket != sender {
                // A socket that is closing cannot take it; it will catch up on reconnect.
                let _ = socket.send_with_str(&frame);
            }
        }
        Ok(())
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
        match frame {
            ClientFrame::Ping => send(&ws, &ServerFrame::Pong),
            ClientFrame::Send { client_id, body } => {
                let Some(peer) = ws.deserialize_attachment::<Peer>()? else {
                    let err = ProtocolError::new(ErrorCode::Internal, "connection lost its identity; reconnect");
                    send(&ws, &ServerFrame::error(err, Some(client_id)));
                    return Ok(());
                };
                if let Err(err) = self.post(&ws, &peer, client_id.clone(), body) {
                    send(&ws, &ServerFrame::error(internal(err), Some(client_id)));
                }
            }
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
