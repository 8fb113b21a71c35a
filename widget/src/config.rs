//! What the loader passes to `mount`: the site, the relay, the words of the visitor's
//! language, and whether to open at once.

use protocol::SiteId;
use wasm_bindgen::JsValue;

#[derive(Debug, Clone)]
pub struct WidgetConfig {
    pub site: SiteId,
    /// Relay origin without a trailing slash, e.g. `https://chat.example.com`.
    pub relay: String,
    /// The visitor clicked the launcher (or the page called `open`) before the widget loaded.
    pub open: bool,
    /// The visitor's language's bundle (`/widget/locales/{lang}.json`, parsed), fetched by the
    /// loader; none for English, or when it could not be fetched.
    pub words: Option<JsValue>,
    /// A conversation token from an email link (`#chat-resume=`): reopen that conversation.
    pub resume: Option<String>,
    /// `data-consent="required"`: store nothing in the browser until the visitor opens the chat.
    pub consent_required: bool,
}

impl WidgetConfig {
    pub fn from_js(value: &JsValue) -> Result<Self, String> {
        let get = |key: &str| js_sys::Reflect::get(value, &JsValue::from_str(key)).ok();
        let site = get("site").and_then(|v| v.as_string()).ok_or("data-site is missing")?;
        let site = SiteId::parse(&site).map_err(|e| e.message)?;
        let relay = get("relay").and_then(|v| v.as_string()).ok_or("the relay URL is missing")?;
        let open = get("open").and_then(|v| v.as_bool()).unwrap_or(false);
        let words = get("words").filter(|w| w.is_object());
        let resume = get("resume").and_then(|v| v.as_string()).filter(|t| !t.is_empty());
        let consent_required = get("consent").and_then(|v| v.as_string()).as_deref() == Some("required");
        Ok(Self { site, relay: relay.trim_end_matches('/').to_owned(), open, words, resume, consent_required })
    }
}
