//! Webhook deliveries, kept by the site's object: each event a conversation reports becomes
//! one row per endpoint that wants it; the site's alarm calls the due ones, signed, and backs
//! off on failure (doubling, up to an hour) for [`WEBHOOK_RETRY_HOURS`]; then the delivery
//! waits for an admin to send it again. The rows are the delivery log admins read.

use crate::config;
use protocol::automations::{
    webhook_signed_text, Delivery, DeliveryLog, DeliveryState, EventKind, Webhook, WebhookEvent, WEBHOOK_DELIVERY_HEADER,
    WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER,
};
use protocol::{ConversationId, SiteId};
use serde::Deserialize;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, Result, SqlStorage, SqlStorageValue};

/// Rows the log keeps; older ones that are settled go.
const LOG_ROWS: i64 = 500;

pub fn migrate(sql: &SqlStorage) -> Result<()> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL,
         conversation_id TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT, at INTEGER NOT NULL, site TEXT)",
        None,
    )?;
    // The site whose key signs the call: a mapped body need not name it. `retry_since`: when
    // an admin sent a failed one again (its retries are counted from then, not from the event).
    crate::schema::add_missing_columns(sql, "deliveries", &[("site", "TEXT"), ("retry_since", "INTEGER")])
}

fn int(value: u64) -> Result<SqlStorageValue> {
    SqlStorageValue::try_from_i64(value as i64)
}

fn kind_name(kind: EventKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Queues one delivery per webhook that wants the event, with the body it expects; returns
/// whether any was queued.
pub fn enqueue<'a>(sql: &SqlStorage, webhooks: impl IntoIterator<Item = &'a Webhook>, event: &WebhookEvent) -> Result<bool> {
    let mut queued = false;
    for webhook in webhooks.into_iter().filter(|w| w.events.contains(&event.event)) {
        sql.exec(
            "INSERT INTO deliveries (event, conversation_id, url, body, state, next_at, at, site) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
            vec![
                kind_name(event.event).into(),
                event.conversation_id.as_str().into(),
                webhook.url.as_str().into(),
                event.body_for(webhook).into(),
                int(event.at)?,
                int(event.at)?,
                event.site.as_str().into(),
            ],
        )?;
        queued = true;
    }
    Ok(queued)
}

#[derive(Deserialize)]
struct DueRow {
    id: i64,
    url: String,
    body: String,
    attempts: i64,
    /// Empty on rows queued before the column: their body is the whole event.
    site: Option<String>,
    /// Since when it is retried: the event, or an admin sending it again.
    since: i64,
}

impl DueRow {
    fn site(&self) -> Option<SiteId> {
        match &self.site {
            Some(site) => SiteId::parse(site).ok(),
            None => serde_json::from_str::<WebhookEvent>(&self.body).ok().map(|event| event.site),
        }
    }
}

#[derive(Deserialize)]
struct NextRow {
    next_at: Option<i64>,
}

/// When the next pending delivery is due, if any.
pub fn next_due(sql: &SqlStorage) -> Result<Option<u64>> {
    let row: NextRow = sql.exec("SELECT MIN(next_at) AS next_at FROM deliveries WHERE state = 'pending'", None)?.one()?;
    Ok(row.next_at.map(|at| at as u64))
}

/// Calls every due endpoint once. A 2xx answer delivers; anything else is retried later,
/// twice as late each time up to an hour apart, until it has been retried for as long as
/// retries last: then it waits for an admin.
pub async fn deliver_due(sql: &SqlStorage, env: &Env, now: u64) -> Result<()> {
    let due: Vec<DueRow> = sql
        .exec(
            "SELECT id, url, body, attempts, site, COALESCE(retry_since, at) AS since FROM deliveries
             WHERE state = 'pending' AND next_at <= ? ORDER BY id LIMIT 50",
            vec![int(now)?],
        )?
        .to_array()?;
    let secret = config::token_secret(env).map_err(|e| worker::Error::RustError(e.message))?;
    for row in due {
        let Some(site) = row.site() else {
            // Nothing to sign it with: it can never be delivered, so it must not be retried.
            sql.exec("UPDATE deliveries SET state = 'failed', last_error = 'unreadable delivery' WHERE id = ?", vec![row.id.into()])?;
            continue;
        };
        let signed = Signed { timestamp: crate::now_ms() / 1000, delivery: format!("{site}.{}", row.id) };
        let signature = protocol::token::sign_bytes(
            protocol::token::webhook_secret(&secret, &site).as_bytes(),
            webhook_signed_text(signed.timestamp, &signed.delivery, &row.body).as_bytes(),
        );
        let outcome = call(&row.url, &row.body, &signed, &signature).await;
        let attempts = row.attempts as u32 + 1;
        match outcome {
            Ok(()) => {
                sql.exec("UPDATE deliveries SET state = 'delivered', attempts = ?, last_error = NULL WHERE id = ?", vec![(attempts as i32).into(), row.id.into()])?;
            }
            Err(why) => {
                let retried_for = now.saturating_sub(row.since as u64);
                let state = if retried_for >= config::webhook_retry_for_ms(env) { "failed" } else { "pending" };
                let doubled = 1u64.checked_shl(attempts - 1).unwrap_or(u64::MAX);
                let next_at = now + config::webhook_retry_base_ms(env).saturating_mul(doubled).min(config::WEBHOOK_RETRY_MAX_MS);
                sql.exec(
                    "UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, next_at = ? WHERE id = ?",
                    vec![state.into(), (attempts as i32).into(), why.into(), int(next_at)?, row.id.into()],
                )?;
            }
        }
    }
    sql.exec(
        "DELETE FROM deliveries WHERE state != 'pending' AND id NOT IN (SELECT id FROM deliveries ORDER BY id DESC LIMIT ?)",
        vec![LOG_ROWS.into()],
    )?;
    Ok(())
}

/// An admin sends a delivery that failed for good again: it is due now and retried as a new
/// one is (its calls counted afresh). `None`: no such delivery, or it is not a failed one.
pub fn send_again(sql: &SqlStorage, id: u64, now: u64) -> Result<Option<Delivery>> {
    let rows: Vec<LogRow> = sql
        .exec(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?, retry_since = ? WHERE id = ? AND state = 'failed'
             RETURNING id, event, conversation_id, url, state, attempts, last_error, at",
            vec![int(now)?, int(now)?, int(id)?],
        )?
        .to_array()?;
    Ok(rows.into_iter().next().and_then(LogRow::into_delivery))
}

/// What a call's signature covers besides its body.
struct Signed {
    timestamp: u64,
    delivery: String,
}

async fn call(url: &str, body: &str, signed: &Signed, signature: &str) -> std::result::Result<(), String> {
    // An endpoint saved before plain http was refused is not called in clear either.
    if !protocol::SafeUrl::parse(url).is_ok_and(|url| url.is_private_in_transit()) {
        return Err("not an https endpoint: change it to https in Settings".to_owned());
    }
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|e| e.to_string());
    set("Content-Type", "application/json")?;
    set(WEBHOOK_TIMESTAMP_HEADER, &signed.timestamp.to_string())?;
    set(WEBHOOK_DELIVERY_HEADER, &signed.delivery)?;
    set(WEBHOOK_SIGNATURE_HEADER, signature)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers.clone()).with_body(Some(body.to_owned().into()));
    let request = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let response = Fetch::Request(request).send().await.map_err(|e| format!("unreachable: {e}"))?;
    match response.status_code() {
        200..=299 => Ok(()),
        status => Err(format!("answered {status}")),
    }
}

#[derive(Deserialize)]
struct LogRow {
    id: i64,
    event: String,
    conversation_id: String,
    url: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    at: i64,
}

pub fn log(sql: &SqlStorage) -> Result<DeliveryLog> {
    let rows: Vec<LogRow> = sql
        .exec(
            "SELECT id, event, conversation_id, url, state, attempts, last_error, at FROM deliveries ORDER BY id DESC LIMIT 200",
            None,
        )?
        .to_array()?;
    Ok(DeliveryLog { deliveries: rows.into_iter().filter_map(LogRow::into_delivery).collect() })
}

impl LogRow {
    fn into_delivery(self) -> Option<Delivery> {
        Some(Delivery {
            id: self.id as u64,
            event: serde_json::from_value(serde_json::Value::String(self.event)).ok()?,
            conversation_id: ConversationId::parse(&self.conversation_id).ok()?,
            url: self.url,
            state: match self.state.as_str() {
                "delivered" => DeliveryState::Delivered,
                "failed" => DeliveryState::Failed,
                _ => DeliveryState::Pending,
            },
            attempts: self.attempts as u32,
            last_error: self.last_error,
            at: self.at as u64,
        })
    }
}
