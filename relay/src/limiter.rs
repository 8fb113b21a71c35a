//! The `Limiter` Durable Object: one per limited key (e.g. "conversations from this IP"),
//! counting hits in a sliding window. Durable, so a limit holds across restarts and across
//! the Worker's many instances.

use serde::{Deserialize, Serialize};
use worker::{durable_object, Date, DurableObject, Env, Request, Response, Result, SqlStorageValue, State};

/// Internal request: take one hit if fewer than `limit` happened in the last `window_secs`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Take {
    pub limit: u32,
    pub window_secs: u32,
}

/// Internal answer to [`Take`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Taken {
    pub allowed: bool,
    /// When not allowed: seconds until the oldest hit leaves the window.
    pub retry_after_secs: u32,
}

#[durable_object]
pub struct Limiter {
    state: State,
}

#[derive(Deserialize)]
struct Row {
    at: i64,
}

impl Limiter {
    fn take(&self, take: Take) -> Result<Taken> {
        let sql = self.state.storage().sql();
        let now = Date::now().as_millis() as i64;
        let window_start = now - take.window_secs as i64 * 1000;
        sql.exec("DELETE FROM hits WHERE at <= ?", vec![SqlStorageValue::try_from_i64(window_start)?])?;
        let hits: Vec<Row> = sql.exec("SELECT at FROM hits ORDER BY at", None)?.to_array()?;
        if (hits.len() as u32) < take.limit {
            sql.exec("INSERT INTO hits (at) VALUES (?)", vec![SqlStorageValue::try_from_i64(now)?])?;
            return Ok(Taken { allowed: true, retry_after_secs: 0 });
        }
        let oldest = hits.first().map(|r| r.at).unwrap_or(now);
        let retry_after_secs = ((oldest - window_start) as f64 / 1000.0).ceil().max(1.0) as u32;
        Ok(Taken { allowed: false, retry_after_secs })
    }
}

impl DurableObject for Limiter {
    fn new(state: State, _env: Env) -> Self {
        if let Err(err) = state.storage().sql().exec("CREATE TABLE IF NOT EXISTS hits (at INTEGER NOT NULL)", None) {
            worker::console_error!("limiter: migration failed: {err}");
        }
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let take: Take = req.json().await?;
        Response::from_json(&self.take(take)?)
    }
}
