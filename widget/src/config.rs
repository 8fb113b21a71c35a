//! What the loader passes to `mount`: the site, the relay, and whether to open at once.

use protocol::SiteId;
use wasm_bindgen::JsValue;

#[derive(Debug, Clone)]
pub struct WidgetConfig {
    pub site: SiteId,
    /// Relay origin without a trailing slash, e.g. `https://chat.example.com`.
    pub relay: String,
    /// The visitor clicked the launcher before the widget had loaded.
    pub open: bool,
}

impl WidgetConfig {
    pub fn from_js(value: &JsValue) -> Result<Self, String> {
        let get = |key: &str| js_sys::Reflect::get(value, &JsValue::from_str(key)).ok();
        let site = get("site").and_then(|v| v.as_string()).ok_or("data-site is missing")?;
        let site = SiteId::parse(&site).map_err(|e| e.message)?;
        let relay = get("relay").and_then(|v| v.as_string()).ok_or("the relay URL is missing")?;
        let open = get("open").and_then(|v| v.as_bool()).unwrap_or(false);
        Ok(Self { site, relay: relay.trim_end_matches('/').to_owned(), open })
    }

    /// The relay's WebSocket origin: `http` becomes `ws`, `https` becomes `wss`.
    pub fn socket_origin(&self) -> String {
        match self.relay.strip_prefix("http") {
            Some(rest) => format!("ws{rest}"),
            None => self.relay.clone(),
        }
    }
}
