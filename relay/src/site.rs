//! The `Site` Durable Object: one per site. It holds the widget settings, the agents'
//! presence, and the index of the site's conversations that agents list.
//!
//! Presence: each agent holds a hibernated WebSocket to the site with `{name, online}` in its
//! attachment; the site has an agent online while any such socket says so. An open widget
//! holds an availability socket here and hears `availability` only when that answer changes:
//! one fan-out from the site, never one per conversation.
//!
//! It stays off the message hot path: a conversation registers once, when created. A site
//! with tens of thousands of live conversations would strain this one object through the
//! availability sockets and the inbox index; both can shard by conversation-id prefix into
//! several objects, with presence changes fanned out to the shards.

use crate::reply;
use protocol::http::{query, ConversationList, ConversationSummary};
use protocol::site::{SiteView, WidgetSettings};
use protocol::{AgentName, ClientFrame, ConversationId, ErrorCode, ProtocolError, ServerFrame};
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, Method, Request, RequestInit, Response, Result, SqlStorageValue, State, Stub,
    WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

/// Internal URLs the Worker calls.
pub const CONVERSATIONS_URL: &str = "https://site/conversations";
pub const VIEW_URL: &str = "https://site/view";
pub const SETTINGS_URL: &str = "https://site/settings";
pub const AVAILABILITY_URL: &str = "https://site/availability";

const USERS_URL: &str = "https://site/users";

/// The conversation a verified user last started on this site, if any.
pub async fn user_conversation(stub: &Stub, user_id: &str) -> Result<Option<ConversationId>> {
    let url = format!("{USERS_URL}?user={}", protocol::http::percent_encode(user_id));
    let mut answer = stub.fetch_with_str(&url).await?;
    let found: Option<String> = answer.json().await?;
    Ok(found.and_then(|id| ConversationId::parse(&id).ok()))
}

/// Remembers a verified user's conversation, so their other devices find it.
pub async fn remember_user(stub: &Stub, user_id: &str, conversation: &ConversationId) -> Result<()> {
    let body = serde_json::json!({ "user": user_id, "conversation": conversation }).to_string();
    let request = Request::new_with_init(USERS_URL, RequestInit::new().with_method(Method::Post).with_body(Some(body.into())))?;
    stub.fetch_with_request(request).await?;
    Ok(())
}

/// Removes an erased conversation from the index and from its user.
pub async fn forget_conversation(stub: &Stub, conversation: &str) -> Result<()> {
    let request = Request::new_with_init(
        "https://site/forget",
        RequestInit::new().with_method(Method::Post).with_body(Some(conversation.to_owned().into())),
    )?;
    stub.fetch_with_request(request).await?;
    Ok(())
}

pub fn agent_url(name: &AgentName) -> String {
    format!("https://site/agent?{}={}", query::AGENT_NAME, protocol::http::percent_encode(name.as_str()))
}

/// How many conversations a list returns, newest first.
const LIST_LIMIT: i64 = 100;

const VISITOR_TAG: &str = "visitor";
const AGENT_TAG: &str = "agent";

/// An agent's site socket: who, and whether they said they are online.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Presence {
    name: AgentName,
    online: bool,
}

#[durable_object]
pub struct Site {
    state: State,
}

#[derive(Deserialize)]
struct SummaryRow {
    id: String,
    created_at: i64,
}

#[derive(Deserialize)]
struct ValueRow {
    value: String,
}

#[derive(Deserialize)]
struct UserRow {
    conversation_id: String,
}

fn send(ws: &WebSocket, frame: &ServerFrame) {
    let _ = ws.send_with_str(frame.encode());
}

impl Site {
    fn register(&self, summary: ConversationSummary) -> Result<()> {
        self.state.storage().sql().exec(
            "INSERT OR IGNORE INTO conversations (id, created_at) VALUES (?, ?)",
            vec![summary.conversation_id.as_str().into(), SqlStorageValue::try_from_i64(summary.created_at as i64)?],
        )?;
        Ok(())
    }

    fn list(&self) -> Result<ConversationList> {
        let rows: Vec<SummaryRow> = self
            .state
            .storage()
            .sql()
            .exec("SELECT id, created_at FROM conversations ORDER BY created_at DESC, id LIMIT ?", vec![LIST_LIMIT.into()])?
            .to_array()?;
        let conversations = rows
            .into_iter()
            .filter_map(|row| {
                Some(ConversationSummary {
                    conversation_id: ConversationId::parse(&row.id).ok()?,
                    created_at: row.created_at as u64,
                })
            })
            .collect();
        Ok(ConversationList { conversations })
    }

    fn settings(&self) -> Result<WidgetSettings> {
        let rows: Vec<ValueRow> =
            self.state.storage().sql().exec("SELECT value FROM settings WHERE key = 'widget'", None)?.to_array()?;
        Ok(rows.into_iter().next().and_then(|r| serde_json::from_str(&r.value).ok()).unwrap_or_default())
    }

    fn save_settings(&self, settings: &WidgetSettings) -> Result<()> {
        let json = serde_json::to_string(settings).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.state.storage().sql().exec(
            "INSERT INTO settings (key, value) VALUES ('widget', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![json.into()],
        )?;
        Ok(())
    }

    /// Whether any agent socket (but `leaving`) says online.
    fn agents_online(&self, leaving: Option<&WebSocket>) -> bool {
        self.state.get_websockets_with_tag(AGENT_TAG).iter().any(|ws| {
            Some(ws) != leaving && ws.deserialize_attachment::<Presence>().ok().flatten().is_some_and(|p| p.online)
        })
    }

    /// Tells every widget and agent the new availability, when it changed.
    fn announce_if_changed(&self, before: bool, after: bool) {
        if before == after {
            return;
        }
        let frame = ServerFrame::Availability { agents_online: after }.encode();
        for ws in self.state.get_websockets() {
            let _ = ws.send_with_str(&frame);
        }
    }

    fn accept(&self, tag: &str, presence: Option<Presence>) -> Result<Response> {
        let pair = WebSocketPair::new()?;
        self.state.accept_websocket_with_tags(&pair.server, &[tag]);
        if let Some(presence) = presence {
            pair.server.serialize_attachment(&presence)?;
        }
        send(&pair.server, &ServerFrame::Availability { agents_online: self.agents_online(None) });
        Response::from_websocket(pair.client)
    }

    fn set_presence(&self, ws: &WebSocket, online: bool) -> Result<()> {
        let Some(mut presence) = ws.deserialize_attachment::<Presence>()? else { return Ok(()) };
        let before = self.agents_online(None);
        presence.online = online;
        ws.serialize_attachment(&presence)?;
        self.announce_if_changed(before, self.agents_online(None));
        Ok(())
    }
}

impl DurableObject for Site {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        for statement in [
            "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL)",
        ] {
            if let Err(err) = sql.exec(statement, None) {
                worker::console_error!("site: migration failed: {err}");
            }
        }
        if let Ok(pair) = worker::worker_sys::WebSocketRequestResponsePair::new(ClientFrame::PING_TEXT, ServerFrame::PONG_TEXT) {
            state.set_websocket_auto_response(&pair);
        }
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        match (req.method(), url.path()) {
            (Method::Post, "/conversations") => {
                self.register(req.json().await?)?;
                Response::empty()
            }
            (Method::Get, "/conversations") => reply::json(&self.list()?, 200),
            (Method::Get, "/view") => {
                reply::json(&SiteView { settings: self.settings()?, agents_online: self.agents_online(None) }, 200)
            }
            (Method::Put, "/settings") => {
                let settings = match req.json::<WidgetSettings>().await.map_err(|e| e.to_string()) {
                    Ok(settings) => settings.validated(),
                    Err(why) => Err(ProtocolError::new(ErrorCode::InvalidContent, format!("not widget settings: {why}"))),
                };
                match settings {
                    Ok(settings) => {
                        self.save_settings(&settings)?;
                        reply::json(&settings, 200)
                    }
                    Err(err) => reply::http_error(err),
                }
            }
            (Method::Get, "/availability") => self.accept(VISITOR_TAG, None),
            (Method::Get, "/users") => {
                let user = url.query_pairs().find(|(k, _)| k == "user").map(|(_, v)| v.into_owned()).unwrap_or_default();
                let rows: Vec<UserRow> = self
                    .state
                    .storage()
                    .sql()
                    .exec("SELECT conversation_id FROM users WHERE user_id = ?", vec![user.into()])?
                    .to_array()?;
                Response::from_json(&rows.into_iter().next().map(|r| r.conversation_id))
            }
            (Method::Post, "/forget") => {
                let conversation = req.text().await?;
                let sql = self.state.storage().sql();
                sql.exec("DELETE FROM conversations WHERE id = ?", vec![conversation.as_str().into()])?;
                sql.exec("DELETE FROM users WHERE conversation_id = ?", vec![conversation.as_str().into()])?;
                Response::empty()
            }
            (Method::Post, "/users") => {
                let body: serde_json::Value = req.json().await?;
                let user = body["user"].as_str().unwrap_or_default().to_owned();
                let conversation = body["conversation"].as_str().unwrap_or_default().to_owned();
                self.state.storage().sql().exec(
                    "INSERT INTO users (user_id, conversation_id) VALUES (?, ?)
                     ON CONFLICT (user_id) DO UPDATE SET conversation_id = excluded.conversation_id",
                    vec![user.into(), conversation.into()],
                )?;
                Response::empty()
            }
            (Method::Get, "/agent") => {
                let name = url.query_pairs().find(|(k, _)| k == query::AGENT_NAME).map(|(_, v)| v.into_owned());
                match name.as_deref().map(AgentName::parse) {
                    Some(Ok(name)) => self.accept(AGENT_TAG, Some(Presence { name, online: false })),
                    _ => reply::refuse(&req, ProtocolError::new(ErrorCode::InvalidId, "an agent name is needed")),
                }
            }
            _ => reply::http_error(ProtocolError::new(ErrorCode::NotFound, "no such site route")),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let WebSocketIncomingMessage::String(text) = message else {
            send(&ws, &ServerFrame::error(ProtocolError::new(ErrorCode::MalformedFrame, "frames are JSON text"), None));
            return Ok(());
        };
        let is_agent = self.state.get_tags(&ws).iter().any(|t| t == AGENT_TAG);
        match ClientFrame::decode(&text) {
            Ok(ClientFrame::SetStatus { online }) if is_agent => self.set_presence(&ws, online)?,
            Ok(ClientFrame::Ping) => send(&ws, &ServerFrame::Pong),
            Ok(_) => send(
                &ws,
                &ServerFrame::error(ProtocolError::new(ErrorCode::Forbidden, "this connection only carries presence"), None),
            ),
            Err(err) => send(&ws, &ServerFrame::error(err, None)),
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _was_clean: bool) -> Result<()> {
        // An agent whose last connection closes is offline.
        let before = self.agents_online(None);
        let after = self.agents_online(Some(&ws));
        self.announce_if_changed(before, after);
        let code = if code == 1005 || code == 1006 { 1000 } else { code as u16 };
        let _ = ws.close(Some(code), Some("closing"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _err: worker::Error) -> Result<()> {
        let before = self.agents_online(None);
        self.announce_if_changed(before, self.agents_online(Some(&ws)));
        Ok(())
    }
}
