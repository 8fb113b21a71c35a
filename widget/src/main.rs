//! The chat widget. The loader (`www/embed.js`) creates a Shadow DOM host, loads this wasm
//! and calls [`mount`] with the site and relay; everything the visitor sees lives in that
//! shadow root, isolated from the host page's styles.

mod config;
mod connection;
mod session;
mod thread;
mod ui;

use config::WidgetConfig;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn main() {
    console_error_panic_hook::set_once();
}

/// Renders the widget into `root` (the loader's shadow root).
#[wasm_bindgen]
pub fn mount(root: web_sys::ShadowRoot, config: JsValue) -> Result<(), JsValue> {
    let config = WidgetConfig::from_js(&config).map_err(|e| JsValue::from_str(&e))?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let container: web_sys::HtmlElement = document.create_element("div")?.unchecked_into();
    container.set_class_name("cw-mount");
    root.append_child(&container)?;
    leptos::mount::mount_to(container, move || leptos::prelude::view! { <ui::App config=config/> }).forget();
    Ok(())
}
