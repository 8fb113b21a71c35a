//! Where the visitor writes. Enter sends, Shift+Enter makes a new line.

use crate::connection::Link;
use leptos::html;
use leptos::prelude::*;
use protocol::frames::validate_body;

#[component]
pub fn Composer(link: Link, open: RwSignal<bool>) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let field: NodeRef<html::Textarea> = NodeRef::new();

    // Opening the panel puts the cursor in the message field.
    Effect::new(move |_| {
        if open.get() {
            request_animation_frame(move || {
                if let Some(field) = field.get_untracked() {
                    let _ = field.focus();
                }
            });
        }
    });

    let submit = move || {
        // The same rule the relay applies: nothing empty, nothing too long.
        if let Ok(body) = validate_body(&draft.get_untracked()) {
            link.send(body);
            draft.set(String::new());
        }
    };
    let submit_on_enter = submit.clone();

    view! {
        <form
            class="cw-composer"
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                node_ref=field
                class="cw-input"
                rows="1"
                aria-label="Message"
                placeholder="Write a message…"
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        submit_on_enter();
                    }
                }
            ></textarea>
            <button class="cw-send" type="submit">"Send"</button>
        </form>
    }
}
