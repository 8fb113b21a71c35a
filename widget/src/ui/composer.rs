//! Where the visitor writes. Enter sends, Shift+Enter makes a new line; typing is announced
//! to the agent (throttled, and it stops by itself).

use crate::chat::Chat;
use leptos::prelude::*;
use protocol::frames::validate_body;
use protocol::limits::MAX_BODY_CHARS;
use wasm_bindgen::JsCast;
use web_sys::HtmlTextAreaElement;

#[component]
pub fn Composer(chat: &'static Chat) -> impl IntoView {
    let strings = chat.strings;
    // The draft is the field's own: read when it is sent, then cleared.
    let send = move |field: HtmlTextAreaElement| {
        // The same rule the relay applies: nothing empty, nothing too long.
        if let Ok(body) = validate_body(&field.value()) {
            chat.send(body);
            field.set_value("");
        }
    };
    view! {
        <form
            class="cw-composer"
            on:submit=move |ev| {
                ev.prevent_default();
                let form = event_target::<web_sys::Element>(&ev);
                if let Some(field) = form.query_selector(".cw-input").ok().flatten().and_then(|f| f.dyn_into().ok()) {
                    send(field);
                }
            }
        >
            <textarea
                class="cw-input"
                rows="1"
                data-autofocus=""
                aria-label=strings.message_field()
                placeholder=strings.placeholder()
                maxlength=MAX_BODY_CHARS.to_string()
                on:input=move |_| chat.typing(true)
                on:blur=move |_| chat.typing(false)
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        send(event_target(&ev));
                    }
                }
            ></textarea>
            <button class="cw-send" type="submit">{strings.send()}</button>
        </form>
    }
}
