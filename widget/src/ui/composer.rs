//! Where the visitor writes. Enter sends, Shift+Enter makes a new line; typing is announced
//! to the agent (throttled, and it stops by itself).

use crate::chat::Chat;
use leptos::prelude::*;
use protocol::frames::validate_body;
use protocol::limits::MAX_BODY_CHARS;

#[component]
pub fn Composer(chat: &'static Chat) -> impl IntoView {
    let strings = chat.strings;
    let draft = RwSignal::new(String::new());
    let submit = move || {
        // The same rule the relay applies: nothing empty, nothing too long.
        if let Ok(body) = validate_body(&draft.get_untracked()) {
            chat.send(body);
            draft.set(String::new());
        }
    };
    view! {
        <form
            class="cw-composer"
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                class="cw-input"
                rows="1"
                data-autofocus=""
                aria-label=strings.message_field()
                placeholder=strings.placeholder()
                maxlength=MAX_BODY_CHARS.to_string()
                prop:value=move || draft.get()
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    chat.typing(true);
                }
                on:blur=move |_| chat.typing(false)
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit();
                    }
                }
            ></textarea>
            <button class="cw-send" type="submit">{strings.send()}</button>
        </form>
    }
}
