//! The widget's views, one concern per file, drawn through `dom`.

mod app;
mod chips;
mod composer;
mod dom;
mod email_form;
mod launcher;
mod messages;
mod notices;
mod quick_replies;

pub use app::app;

use leptos::prelude::request_animation_frame;
use wasm_bindgen::JsCast;

/// For a click whose button goes away with what it does (a chip that sends, Retry, Back): once
/// the view has changed, if focus fell out of the widget, the first element matching
/// `selector` takes it, so a keyboard user goes on from there instead of from the page's top.
/// Call it before acting: the button still knows which widget it is in.
pub(crate) fn refocus(ev: &web_sys::Event, selector: &'static str) {
    let Some(root) = ev.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok()).map(|n| n.get_root_node()) else { return };
    request_animation_frame(move || {
        let found = if let Some(shadow) = root.dyn_ref::<web_sys::ShadowRoot>() {
            if shadow.active_element().is_some() {
                return;
            }
            shadow.query_selector(selector)
        } else if let Some(document) = root.dyn_ref::<web_sys::Document>() {
            document.query_selector(selector)
        } else {
            return;
        };
        if let Some(element) = found.ok().flatten().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    });
}
