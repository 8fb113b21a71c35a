//! The chat widget. The loader (`www/embed.js`) creates a Shadow DOM host, loads this wasm
//! and calls [`mount`] with the site and relay; everything the visitor sees lives in that
//! shadow root, isolated from the host page's styles.

mod api;
mod attention;
mod chat;
mod config;
mod i18n;
mod json;
mod reactive;
mod session;
mod socket;
mod thread;
mod ui;

use chat::Chat;
use config::WidgetConfig;
use leptos::prelude::{Set, Update};
use protocol::{Contact, Email, Identity};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn main() {
    // Debug builds say why they panicked; release builds abort at once (scripts/build).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
}

/// The page's handle on the widget: `window.ChatWidget(command, ...)` lands here.
#[wasm_bindgen]
pub struct Widget {
    chat: &'static Chat,
}

#[wasm_bindgen]
impl Widget {
    /// Runs one JS API command: `open`, `close`, `toggle`, `identify`, `shutdown`, `on`.
    /// Unknown commands and bad arguments are reported on the console, never thrown at the page.
    pub fn command(&self, name: &str, first: JsValue, second: JsValue) {
        let chat = self.chat;
        match name {
            "open" => chat.open.set(true),
            "close" => chat.open.set(false),
            "toggle" => chat.open.update(|o| *o = !*o),
            "shutdown" => chat.shutdown(),
            "identify" => match identity(&first) {
                Ok((contact, user)) => {
                    if let Some(user) = user {
                        chat.set_identity(user);
                    }
                    if contact.email.is_some() || contact.name.is_some() {
                        chat.set_contact(contact);
                    }
                }
                Err(why) => web_sys::console::warn_1(&format!("ChatWidget('identify'): {why}").into()),
            },
            "on" => match (first.as_string(), second.dyn_into::<js_sys::Function>()) {
                // The handle exists only once the widget is ready: say so at once.
                (Some(event), Ok(callback)) if event == "ready" => {
                    let _ = callback.call0(&JsValue::NULL);
                }
                (Some(event), Ok(callback)) => chat.on(event, callback),
                _ => web_sys::console::warn_1(&"ChatWidget('on', event, callback)".into()),
            },
            other => web_sys::console::warn_1(&format!("ChatWidget: unknown command \"{other}\"").into()),
        }
    }
}

/// `identify({email, name, user_id, user_hash})`: the email is checked like any other; the
/// user id and hash go to the relay, which checks them when the site verifies identities.
fn identity(value: &JsValue) -> Result<(Contact, Option<Identity>), String> {
    let get = |key: &str| js_sys::Reflect::get(value, &JsValue::from_str(key)).ok().and_then(|v| v.as_string());
    let email = get("email").map(|e| Email::parse(&e)).transpose().map_err(|e| e.message)?;
    let contact = Contact { email, name: get("name") }.validated().map_err(|e| e.message)?;
    let user = match (get("user_id"), get("user_hash")) {
        (Some(user_id), Some(user_hash)) => Some(Identity { user_id, user_hash }.validated().map_err(|e| e.message)?),
        _ => None,
    };
    Ok((contact, user))
}

/// Renders the widget into `root` (the loader's shadow root) and returns its handle.
#[wasm_bindgen]
pub fn mount(root: web_sys::ShadowRoot, config: JsValue) -> Result<Widget, JsValue> {
    let config = WidgetConfig::from_js(&config).map_err(|e| JsValue::from_str(&e))?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let container: web_sys::HtmlElement = document.create_element("div")?.unchecked_into();
    container.set_class_name("cw-mount");
    root.append_child(&container)?;
    let strings: &'static i18n::Strings = match &config.words {
        Some(bundle) => Box::leak(Box::new(i18n::Strings::from_bundle(bundle))),
        None => &i18n::EN,
    };
    // The state's effects and tasks need the executor and an owner before the view exists;
    // both live as long as the page.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let owner = leptos::prelude::Owner::new();
    let chat = owner.with(|| Chat::new(config, strings));
    owner.with(|| ui::app(&container, chat));
    std::mem::forget(owner);
    Ok(Widget { chat })
}
