//! The relay's HTTP API, same origin: the session cookie goes along by itself.

use protocol::automations::{Automations, Delivery, DeliveryLog};
use protocol::http::{
    account_path, agent_conversation_path, bot_key_path, agent_conversations_path, analytics_path, automations_path, canned_path,
    contact_conversations_path, deliveries_path, delivery_retry_path, inbox_settings_path, older_closed_conversations_path, outbound_path, settings_path, webhook_secret_path,
    ClosedCursor, ErrorBody, IdentitySecret, ACCOUNTS_PATH, LOGIN_PATH, LOGOUT_PATH, ME_PATH,
};
use protocol::inbox::{
    AccountChange, AccountList, AgentId, Analytics, CannedResponses, Inbox, InboxSettings, Login, NewAccount, Outbound, OutboundStarted, SignedIn,
};
use protocol::site::WidgetSettings;
use protocol::{Account, ConversationId, Email, ErrorCode, SiteId};
use crate::state::words::sentence;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// A refused or failed call: the relay's code when it gave one, and words for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Option<ErrorCode>,
    pub message: String,
}

impl ApiError {
    /// The session is gone (expired, or signed out elsewhere).
    pub fn signed_out(&self) -> bool {
        self.code == Some(ErrorCode::Unauthorized)
    }
}

fn unreachable_relay<E>(_: E) -> ApiError {
    ApiError { code: None, message: "Could not reach the server. Check your connection and try again.".into() }
}

/// One request; the answer's text (empty for 204) or the relay's error.
async fn request(method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
    let window = web_sys::window().ok_or_else(|| unreachable_relay(()))?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    if let Some(body) = body {
        let headers = web_sys::Headers::new().map_err(unreachable_relay)?;
        headers.set("Content-Type", "application/json").map_err(unreachable_relay)?;
        init.set_headers(&headers);
        init.set_body(&body.into());
    }
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init(path, &init)).await.map_err(unreachable_relay)?.unchecked_into();
    let text = JsFuture::from(response.text().map_err(unreachable_relay)?)
        .await
        .map_err(unreachable_relay)?
        .as_string()
        .unwrap_or_default();
    if response.ok() {
        return Ok(text);
    }
    Err(match serde_json::from_str::<ErrorBody>(&text) {
        Ok(ErrorBody { error }) => ApiError { code: Some(error.code), message: sentence(&error.message) },
        // No JSON (a proxy, a crash): the status still says whether the session is gone.
        Err(_) if response.status() == 401 => ApiError { code: Some(ErrorCode::Unauthorized), message: "Please sign in again.".into() },
        Err(_) => ApiError { code: None, message: format!("The server answered {} {}.", response.status(), response.status_text()) },
    })
}

fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError { code: None, message: format!("Unexpected answer from the server: {e}") })
}

fn encode(body: &impl Serialize) -> Option<String> {
    Some(serde_json::to_string(body).expect("wire types always serialise"))
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(&request("GET", path, None).await?)
}

async fn send<T: DeserializeOwned>(method: &str, path: &str, body: &impl Serialize) -> Result<T, ApiError> {
    decode(&request(method, path, encode(body)).await?)
}

pub async fn login(login: &Login) -> Result<SignedIn, ApiError> {
    send("POST", LOGIN_PATH, login).await
}

pub async fn me() -> Result<SignedIn, ApiError> {
    get(ME_PATH).await
}

pub async fn logout() -> Result<(), ApiError> {
    request("POST", LOGOUT_PATH, None).await.map(drop)
}

pub async fn accounts() -> Result<AccountList, ApiError> {
    get(ACCOUNTS_PATH).await
}

pub async fn create_account(account: &NewAccount) -> Result<Account, ApiError> {
    send("POST", ACCOUNTS_PATH, account).await
}

pub async fn change_account(id: &AgentId, change: &AccountChange) -> Result<Account, ApiError> {
    send("PATCH", &account_path(id), change).await
}

/// Removes the account: it is signed out everywhere.
pub async fn remove_account(id: &AgentId) -> Result<Account, ApiError> {
    decode(&request("DELETE", &account_path(id), None).await?)
}

pub async fn inbox(site: &SiteId) -> Result<Inbox, ApiError> {
    get(&agent_conversations_path(site)).await
}

/// The closed conversations after the oldest one listed.
pub async fn older_closed(site: &SiteId, cursor: &ClosedCursor) -> Result<Inbox, ApiError> {
    get(&older_closed_conversations_path(site, cursor)).await
}

pub async fn contact_conversations(site: &SiteId, email: &Email) -> Result<Inbox, ApiError> {
    get(&contact_conversations_path(site, email)).await
}

pub async fn widget_settings(site: &SiteId) -> Result<WidgetSettings, ApiError> {
    get(&settings_path(site)).await
}

pub async fn save_widget_settings(site: &SiteId, settings: &WidgetSettings) -> Result<WidgetSettings, ApiError> {
    send("PUT", &settings_path(site), settings).await
}

pub async fn inbox_settings(site: &SiteId) -> Result<InboxSettings, ApiError> {
    get(&inbox_settings_path(site)).await
}

pub async fn save_inbox_settings(site: &SiteId, settings: &InboxSettings) -> Result<InboxSettings, ApiError> {
    send("PUT", &inbox_settings_path(site), settings).await
}

pub async fn canned(site: &SiteId) -> Result<CannedResponses, ApiError> {
    get(&canned_path(site)).await
}

pub async fn save_canned(site: &SiteId, canned: &CannedResponses) -> Result<CannedResponses, ApiError> {
    send("PUT", &canned_path(site), canned).await
}

pub async fn automations(site: &SiteId) -> Result<Automations, ApiError> {
    get(&automations_path(site)).await
}

pub async fn save_automations(site: &SiteId, automations: &Automations) -> Result<Automations, ApiError> {
    send("PUT", &automations_path(site), automations).await
}

pub async fn deliveries(site: &SiteId) -> Result<DeliveryLog, ApiError> {
    get(&deliveries_path(site)).await
}

/// Sends a delivery that failed for good again.
pub async fn send_delivery_again(site: &SiteId, id: u64) -> Result<Delivery, ApiError> {
    decode(&request("POST", &delivery_retry_path(site, id), None).await?)
}

/// The key webhook calls are signed with.
pub async fn bot_key(site: &SiteId) -> Result<String, ApiError> {
    get::<IdentitySecret>(&bot_key_path(site)).await.map(|s| s.secret)
}

pub async fn webhook_secret(site: &SiteId) -> Result<String, ApiError> {
    get::<IdentitySecret>(&webhook_secret_path(site)).await.map(|s| s.secret)
}

pub async fn start_outbound(site: &SiteId, outbound: &Outbound) -> Result<OutboundStarted, ApiError> {
    send("POST", &outbound_path(site), outbound).await
}

pub async fn analytics(site: &SiteId, from: &str, to: &str) -> Result<Analytics, ApiError> {
    get(&analytics_path(site, from, to)).await
}

/// Erases a conversation's messages and contact (the visitor asked).
pub async fn erase_conversation(conversation: &ConversationId) -> Result<(), ApiError> {
    request("DELETE", &agent_conversation_path(conversation), None).await.map(drop)
}
