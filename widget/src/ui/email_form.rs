//! Asking for the visitor's email: before the first message (pre-chat), or in the chat when
//! nobody is online. Checked with the same parser the relay uses.

use super::refocus;
use crate::chat::Chat;
use leptos::prelude::*;
use protocol::{Contact, Email};
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

#[component]
pub fn EmailForm(chat: &'static Chat, prechat: bool, #[prop(optional)] on_done: Option<Callback<()>>) -> impl IntoView {
    let strings = chat.strings;
    let known = chat.contact.with_untracked(|c| c.email.as_ref().map(|e| e.to_string()).unwrap_or_default());
    let error = RwSignal::new(false);
    // The fields are the browser's: their values are read when the form is sent.
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(form) = ev.target().and_then(|form| form.dyn_into::<web_sys::Element>().ok()) else { return };
        let field = |selector| form.query_selector(selector).ok().flatten().and_then(|f| f.dyn_into::<HtmlInputElement>().ok());
        let email = field(".cw-email-input");
        match Email::parse(&email.as_ref().map(HtmlInputElement::value).unwrap_or_default()) {
            Ok(parsed) => {
                error.set(false);
                if !prechat {
                    // The form goes; the composer is where the visitor was writing.
                    refocus(&ev, ".cw-input");
                }
                let name = field(".cw-name-input").map(|f| f.value().trim().to_owned()).filter(|n| !n.is_empty());
                chat.set_contact(Contact { email: Some(parsed), name });
                if let Some(done) = on_done {
                    done.run(());
                }
            }
            Err(_) => {
                // Said again on every try: an alert whose text did not change is not read out.
                error.set(false);
                request_animation_frame(move || error.set(true));
                if let Some(email) = email {
                    let _ = email.focus();
                }
            }
        }
    };
    let skip = move |ev: leptos::ev::MouseEvent| {
        refocus(&ev, ".cw-input");
        chat.email_skipped.set(true);
        if let Some(done) = on_done {
            done.run(());
        }
    };
    view! {
        <form class="cw-email-form" novalidate="" on:submit=submit>
            <p class="cw-email-prompt" id="cw-email-prompt">
                {if prechat { strings.email_prompt_prechat() } else { strings.email_prompt_inchat() }}
            </p>
            <label class="cw-field">
                <span>{strings.email_label()}</span>
                <input
                    class="cw-email-input"
                    type="email"
                    autocomplete="email"
                    required=""
                    // Only the pre-chat form takes focus; in the chat, the composer keeps it.
                    data-autofocus=prechat.then_some("")
                    aria-describedby="cw-email-prompt cw-email-error"
                    aria-invalid=move || if error.get() { "true" } else { "false" }
                    value=known
                />
            </label>
            {prechat.then(|| view! {
                <label class="cw-field">
                    <span>{strings.name_label()}</span>
                    <input class="cw-name-input" type="text" autocomplete="name" maxlength="80"/>
                </label>
            })}
            <p id="cw-email-error" class="cw-error" role="alert">{move || error.get().then_some(strings.invalid_email())}</p>
            <div class="cw-actions">
                <button type="submit" class="cw-button">{if prechat { strings.start_chat() } else { strings.save() }}</button>
                {(!prechat).then(|| view! {
                    <button type="button" class="cw-text-button" on:click=skip>{strings.skip()}</button>
                })}
            </div>
        </form>
    }
}
