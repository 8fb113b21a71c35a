//! The relay's settings, read from the Worker environment.
//!
//! - `SITES`: comma-separated site ids this relay serves (a `[vars]` entry).
//! - `TOKEN_SECRET`: key for visitor tokens (a secret; `.dev.vars` locally).
//! - `ADMIN_EMAIL`, `ADMIN_PASSWORD` (secrets), `ADMIN_NAME`: the first admin, created when
//!   they first sign in while the team has no account.
//! - `WEBHOOK_RETRY_BASE_MS`: first wait before a failed webhook call is retried (30 s).
//! - `MINUTE_SECONDS`: how long a minute of the inbox's time limits lasts (60; tests shorten it).
//! - `SESSION_SECONDS`: how long an agent's session lasts unused (a week; tests shorten it).
//! - `PRESENCE_GRACE_SECONDS`: how long after an agent's last console tab closes they go
//!   offline (default 30; tests shorten it).
//! - `EMAIL_FROM`, `EMAIL_REPLY_DOMAIN`: sender of the unread-reply emails and the domain of
//!   the per-conversation reply addresses (`[vars]`).
//! - `INBOUND_SECRET`: key the mail provider signs inbound replies with (a secret).
//! - `MAIL_API_URL`, `MAIL_API_KEY`: optional HTTP mail API instead of the `send_email` binding.
//! - `LIMIT_CONVERSATIONS_PER_HOUR` (per IP, default 20), `LIMIT_MESSAGES_PER_SECOND` (per
//!   author in a conversation, default 5, bursts of twice that), `LIMIT_CONTACT_CHANGES_PER_HOUR`
//!   (email captures per conversation, default 10).
//! - `RETENTION_DAY_SECONDS`: how long a "day" of a site's retention is (86400; tests shorten it).
//! - `WEBHOOK_RETRY_BASE_MS`, `WEBHOOK_RETRY_FOR_SECONDS`: first wait before a failed webhook
//!   call is retried (30 s, doubling up to an hour), and how long it is retried (72 hours).
//! - `EMAIL_RETRY_BASE_MS`: first wait before a failed email is retried (doubling after;
//!   default one minute; tests set it short).
//! - `INBOX_CLOSED_LISTED`: how many of the most recent closed conversations the inbox lists
//!   besides every open one (200; tests shorten it).

use protocol::{ErrorCode, ProtocolError, SiteId};
use worker::Env;

fn required(env: &Env, name: &str) -> Result<String, ProtocolError> {
    env.var(name)
        .map(|v| v.to_string())
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ProtocolError::new(ErrorCode::Internal, format!("the relay is not configured: {name} is missing")))
}

pub fn token_secret(env: &Env) -> Result<Vec<u8>, ProtocolError> {
    required(env, "TOKEN_SECRET").map(String::into_bytes)
}

/// The first admin's email and password, when configured.
pub fn first_admin(env: &Env) -> Option<(String, String)> {
    Some((required(env, "ADMIN_EMAIL").ok()?, required(env, "ADMIN_PASSWORD").ok()?))
}

pub fn first_admin_name(env: &Env) -> String {
    optional(env, "ADMIN_NAME", "Admin")
}

/// How long a "minute" of the inbox's time limits is (60 s; tests shorten it).
pub fn minute_ms(env: &Env) -> u64 {
    number(env, "MINUTE_SECONDS", 60) as u64 * 1000
}

pub fn inbox_closed_listed(env: &Env) -> u32 {
    number(env, "INBOX_CLOSED_LISTED", 200)
}

/// How long a session lasts without being used; using it renews it.
pub fn session_secs(env: &Env) -> u64 {
    number(env, "SESSION_SECONDS", 7 * 24 * 60 * 60) as u64
}

pub fn presence_grace_ms(env: &Env) -> u64 {
    number(env, "PRESENCE_GRACE_SECONDS", 30) as u64 * 1000
}

/// Sign-in attempts per IP and account per 15 minutes.
pub fn logins_per_window(env: &Env) -> u32 {
    number(env, "LIMIT_LOGINS_PER_15_MINUTES", 10)
}

/// Every site this relay serves.
pub fn sites(env: &Env) -> Result<Vec<SiteId>, ProtocolError> {
    Ok(required(env, "SITES")?.split(',').filter_map(|s| SiteId::parse(s.trim()).ok()).collect())
}

/// The site, if this relay serves it.
pub fn served_site(env: &Env, raw: &str) -> Result<SiteId, ProtocolError> {
    let site = SiteId::parse(raw)?;
    let sites = required(env, "SITES")?;
    if sites.split(',').any(|s| s.trim() == site.as_str()) {
        Ok(site)
    } else {
        Err(ProtocolError::new(ErrorCode::UnknownSite, format!("this relay does not serve site \"{site}\"")))
    }
}

fn optional(env: &Env, name: &str, default: &str) -> String {
    env.var(name).map(|v| v.to_string()).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

pub fn email_from(env: &Env) -> String {
    optional(env, "EMAIL_FROM", "chat@example.com")
}

pub fn reply_domain(env: &Env) -> String {
    optional(env, "EMAIL_REPLY_DOMAIN", "reply.example.com")
}

pub fn inbound_secret(env: &Env) -> Result<Vec<u8>, ProtocolError> {
    required(env, "INBOUND_SECRET").map(String::into_bytes)
}

/// First wait before a failed webhook call is retried (doubling after; 30 s; tests shorten it).
pub fn webhook_retry_base_ms(env: &Env) -> u64 {
    optional(env, "WEBHOOK_RETRY_BASE_MS", "30000").parse().unwrap_or(30_000)
}

/// The longest wait between two calls of a failing webhook (an hour).
pub const WEBHOOK_RETRY_MAX_MS: u64 = 3_600_000;

/// How long a failing delivery is retried before it waits for an admin
/// ([`protocol::automations::WEBHOOK_RETRY_HOURS`]; tests shorten it).
pub fn webhook_retry_for_ms(env: &Env) -> u64 {
    number(env, "WEBHOOK_RETRY_FOR_SECONDS", protocol::automations::WEBHOOK_RETRY_HOURS as u32 * 3600) as u64 * 1000
}

pub fn email_retry_base_ms(env: &Env) -> u64 {
    optional(env, "EMAIL_RETRY_BASE_MS", "60000").parse().unwrap_or(60_000)
}

fn number(env: &Env, name: &str, default: u32) -> u32 {
    optional(env, name, &default.to_string()).parse().unwrap_or(default)
}

pub fn conversations_per_hour(env: &Env) -> u32 {
    number(env, "LIMIT_CONVERSATIONS_PER_HOUR", 20)
}

pub fn messages_per_second(env: &Env) -> u32 {
    number(env, "LIMIT_MESSAGES_PER_SECOND", 5)
}

pub fn contact_changes_per_hour(env: &Env) -> u32 {
    number(env, "LIMIT_CONTACT_CHANGES_PER_HOUR", 10)
}

pub fn retention_day_ms(env: &Env) -> u64 {
    number(env, "RETENTION_DAY_SECONDS", 86_400) as u64 * 1000
}
