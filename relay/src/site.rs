//! The `Site` Durable Object: one per site. For now it keeps the index of the site's
//! conversations that agents list; settings, presence, the queue and routing will live here.
//!
//! It stays off the message hot path: a conversation registers once, when it is created.
//! A site with tens of thousands of live conversations would strain one object through the
//! inbox index; the index can then shard by conversation-id prefix into several objects.

use crate::reply;
use protocol::http::{ConversationList, ConversationSummary};
use protocol::{ConversationId, ErrorCode, ProtocolError};
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, SqlStorageValue, State};

/// Internal URL for registering a new conversation (POST a [`ConversationSummary`]) and
/// listing them (GET).
pub const CONVERSATIONS_URL: &str = "https://site/conversations";

/// How many conversations a list returns, newest first.
const LIST_LIMIT: i64 = 100;

#[durable_object]
pub struct Site {
    state: State,
}

#[derive(Deserialize)]
struct SummaryRow {
    id: String,
    created_at: i64,
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
}

impl DurableObject for Site {
    fn new(state: State, _env: Env) -> Self {
        let created = state.storage().sql().exec(
            "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL)",
            None,
        );
        if let Err(err) = created {
            worker::console_error!("site: migration failed: {err}");
        }
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.url()?.path().to_owned();
        match (req.method(), path.as_str()) {
            (Method::Post, "/conversations") => {
                self.register(req.json().await?)?;
                Response::empty()
            }
            (Method::Get, "/conversations") => reply::json(&self.list()?, 200),
            _ => reply::http_error(ProtocolError::new(ErrorCode::NotFound, "no such site route")),
        }
    }
}
