//! The widget's two HTTP calls: the site's view when it opens, and starting a conversation.

use crate::config::WidgetConfig;
use protocol::http::{start_conversation_path, widget_view_path, ConversationStarted, ErrorBody, StartConversation};
use protocol::site::SiteView;
use protocol::{Contact, ErrorCode, Identity, SafeUrl};
use protocol::json_tree::{FromTree, ToJson};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Why a call failed: the relay's refusal, or `None` when it could not be reached or its
/// answer read. The visitor reads it in their language ([`crate::i18n::Strings::failure`]).
pub struct Failure(pub Option<ErrorCode>);

async fn call<T: FromTree>(method: &str, url: &str, body: Option<String>) -> Result<T, Failure> {
    let (ok, text) = fetch(method, url, body).await.ok_or(Failure(None))?;
    if ok {
        crate::json::parse(&text).ok_or(Failure(None))
    } else {
        Err(Failure(crate::json::parse::<ErrorBody>(&text).map(|b| b.error.code)))
    }
}

/// Whether the answer was a success, and its text; `None` when nothing came back. One
/// function for every call, not a copy per answer type (each await is code in the wasm).
async fn fetch(method: &str, url: &str, body: Option<String>) -> Option<(bool, String)> {
    let window = web_sys::window()?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        // text/plain keeps it a simple CORS request: no preflight from customers' pages.
        init.set_body(&body.into());
    }
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.ok()?.unchecked_into();
    let text = JsFuture::from(response.text().ok()?).await.ok()?.as_string().unwrap_or_default();
    Some((response.ok(), text))
}

pub async fn site_view(config: &WidgetConfig) -> Result<SiteView, Failure> {
    call("GET", &format!("{}{}", config.relay, widget_view_path(&config.site)), None).await
}

pub async fn start_conversation(config: &WidgetConfig, contact: Contact, identity: Option<Identity>) -> Result<ConversationStarted, Failure> {
    let start = StartConversation { contact, page_url: current_page(), identity };
    let body = start.to_json();
    call("POST", &format!("{}{}", config.relay, start_conversation_path(&config.site)), Some(body)).await
}

/// The page the visitor is on, without its fragment: email links lead back to it.
fn current_page() -> Option<SafeUrl> {
    let location = web_sys::window()?.location();
    let url = format!("{}{}{}", location.origin().ok()?, location.pathname().ok()?, location.search().ok()?);
    SafeUrl::parse(&url).ok()
}
