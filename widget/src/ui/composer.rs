//! Where the visitor writes. Enter sends, Shift+Enter makes a new line; typing is announced
//! to the agent (throttled, and it stops by itself).

use super::dom::{attrs, on, tag, tag_text};
use crate::chat::Chat;
use protocol::frames::validate_body;
use protocol::limits::MAX_BODY_CHARS;
use wasm_bindgen::JsCast;
use web_sys::{HtmlTextAreaElement, KeyboardEvent, Node};

pub fn composer(parent: &Node, chat: &'static Chat) {
    let strings = chat.strings;
    let form = tag(parent, "form", "cw-composer");
    // The draft is the field's own: read when it is sent, then cleared.
    let field: HtmlTextAreaElement = tag(&form, "textarea", "cw-input").unchecked_into();
    attrs(
        &field,
        &[
            ("rows", "1"),
            ("data-autofocus", ""),
            ("aria-label", strings.message_field()),
            ("placeholder", strings.placeholder()),
            ("maxlength", &MAX_BODY_CHARS.to_string()),
        ],
    );
    let send = {
        let field = field.clone();
        move || {
            // The same rule the relay applies: nothing empty, nothing too long.
            if let Ok(body) = validate_body(&field.value()) {
                chat.send(body);
                field.set_value("");
            }
        }
    };
    on(&field, "input", move |_| chat.typing(true));
    on(&field, "blur", move |_| chat.typing(false));
    on(&field, "keydown", {
        let send = send.clone();
        move |ev| {
            let key: &KeyboardEvent = ev.unchecked_ref();
            if key.key() == "Enter" && !key.shift_key() && !key.is_composing() {
                ev.prevent_default();
                send();
            }
        }
    });
    on(&form, "submit", move |ev| {
        ev.prevent_default();
        send();
    });
    attrs(&tag_text(&form, "button", "cw-send", strings.send()), &[("type", "submit")]);
}
