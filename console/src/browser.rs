//! Small wrappers over the browser APIs the console uses: storage, time, ids, the page's
//! origin, confirmation and system notifications.

use protocol::ClientMsgId;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

pub fn save(key: &str, value: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(key, value);
    }
}

pub fn forget(key: &str) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(key);
    }
}

/// Forgets every stored key that starts with one of `prefixes`.
pub fn forget_all(prefixes: &[&str]) {
    let Some(storage) = storage() else { return };
    let count = storage.length().unwrap_or(0);
    let keys: Vec<String> = (0..count).filter_map(|i| storage.key(i).ok().flatten()).collect();
    for key in keys.iter().filter(|key| prefixes.iter().any(|prefix| key.starts_with(prefix))) {
        let _ = storage.remove_item(key);
    }
}

/// `c-<timestamp>-<random>`: unique per agent within a conversation, as the protocol asks.
pub fn new_client_id() -> ClientMsgId {
    let random = (js_sys::Math::random() * 1e12) as u64;
    ClientMsgId::parse(&format!("c-{}-{random}", now_ms() as u64)).expect("digits and dashes are a valid client id")
}

/// `ws://` or `wss://` of this page's origin, followed by `path`.
pub fn socket_url(path: &str) -> String {
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    let origin = match origin.strip_prefix("http") {
        Some(rest) => format!("ws{rest}"),
        None => origin,
    };
    format!("{origin}{path}")
}

/// Moves keyboard focus to the message field: where an agent goes on after an action whose
/// button goes away when done (accept, delete, retry), instead of losing focus to the page.
pub fn focus_composer() {
    let field = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("composer"));
    if let Some(field) = field.and_then(|f| f.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = field.focus();
    }
}

/// When the control that had focus went away with what it did (End, Block, a transfer away),
/// focus falls to the page's body: the first of `selectors` that is there takes it instead,
/// so a keyboard user goes on from the conversation, not from the top of the page.
pub fn refocus_if_lost(selectors: &'static [&'static str]) {
    leptos::prelude::request_animation_frame(move || {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
        let lost = document.active_element().is_none_or(|e| Some(e) == document.body().map(Into::into));
        if !lost {
            return;
        }
        let target = selectors.iter().find_map(|selector| document.query_selector(selector).ok().flatten());
        if let Some(target) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = target.focus();
        }
    });
}

pub fn page_hidden() -> bool {
    web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden())
}

pub fn page_has_focus() -> bool {
    web_sys::window().and_then(|w| w.document()).and_then(|d| d.has_focus().ok()).unwrap_or(false)
}

/// Asks the agent to confirm a destructive action (the browser's own accessible dialog).
pub fn confirm(question: &str) -> bool {
    web_sys::window().and_then(|w| w.confirm_with_message(question).ok()).unwrap_or(false)
}

/// Whether system notifications may be shown, or may still be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationAccess {
    Unsupported,
    NotAsked,
    Granted,
    Denied,
}

pub fn notification_access() -> NotificationAccess {
    let supported = web_sys::window()
        .is_some_and(|w| js_sys::Reflect::has(&w, &JsValue::from_str("Notification")).unwrap_or(false));
    if !supported {
        return NotificationAccess::Unsupported;
    }
    match web_sys::Notification::permission() {
        web_sys::NotificationPermission::Granted => NotificationAccess::Granted,
        web_sys::NotificationPermission::Denied => NotificationAccess::Denied,
        _ => NotificationAccess::NotAsked,
    }
}

/// Asks for permission (only ever from a click); `done` gets the outcome.
pub fn ask_notification_access(done: impl FnOnce(NotificationAccess) + 'static) {
    let Ok(promise) = web_sys::Notification::request_permission() else { return };
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        done(notification_access());
    });
}

/// A system notification, when allowed and the agent is looking elsewhere (the toast covers
/// the other case). Clicking it brings the console forward and runs `on_click`. One `tag`
/// (a conversation) has one notification at a time: a newer one replaces it.
pub fn notify(title: &str, body: &str, tag: &str, on_click: impl FnOnce() + 'static) {
    if notification_access() != NotificationAccess::Granted || (!page_hidden() && page_has_focus()) {
        return;
    }
    let options = web_sys::NotificationOptions::new();
    options.set_body(body);
    options.set_tag(tag);
    if let Ok(notification) = web_sys::Notification::new_with_options(title, &options) {
        let handler = Closure::once_into_js(move || {
            if let Some(window) = web_sys::window() {
                let _ = window.focus();
            }
            on_click();
        });
        notification.set_onclick(Some(handler.unchecked_ref()));
    }
}

/// Today and `days` days before it, as `YYYY-MM-DD` (UTC, as analytics count days).
pub fn utc_day(days_ago: u32) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(now_ms() - f64::from(days_ago) * 86_400_000.0));
    String::from(date.to_iso_string()).chars().take(10).collect()
}

/// A message time in the agent's own time zone: `14:05`, or `3 Mar 14:05` before today.
pub fn local_time(ms: u64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    let today = js_sys::Date::new_0();
    let clock = format!("{:02}:{:02}", date.get_hours(), date.get_minutes());
    if date.to_date_string() == today.to_date_string() {
        clock
    } else {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!("{} {} {clock}", date.get_date(), MONTHS[date.get_month() as usize % 12])
    }
}
