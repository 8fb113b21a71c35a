//! Asking for the visitor's email: before the first message (pre-chat), or in the chat when
//! nobody is online. Checked with the same parser the relay uses.

use super::dom::{attr, attrs, bind_attr, bind_text, on, tag, tag_text};
use super::refocus;
use crate::chat::Chat;
use leptos::prelude::*;
use protocol::{Contact, Email};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, Node};

/// The form. In the chat, `editing` is the visitor's request to change a known email, which
/// saving or skipping ends.
pub fn email_form(parent: &Node, chat: &'static Chat, prechat: bool, editing: Option<RwSignal<bool>>) {
    let strings = chat.strings;
    let known = chat.contact.with_untracked(|c| c.email.as_ref().map(|e| e.to_string()).unwrap_or_default());
    let error = RwSignal::new(false);
    let done = move || {
        if let Some(editing) = editing {
            editing.set(false);
        }
    };

    let form = tag(parent, "form", "cw-email-form");
    attr(&form, "novalidate", Some(""));
    let prompt = if prechat { strings.email_prompt_prechat() } else { strings.email_prompt_inchat() };
    attr(&tag_text(&form, "p", "cw-email-prompt", prompt), "id", Some("cw-email-prompt"));
    let label = tag(&form, "label", "cw-field");
    tag_text(&label, "span", "", strings.email_label());
    // The fields are the browser's: their values are read when the form is sent.
    let email: HtmlInputElement = tag(&label, "input", "cw-email-input").unchecked_into();
    attrs(
        &email,
        &[("type", "email"), ("autocomplete", "email"), ("required", ""), ("aria-describedby", "cw-email-prompt cw-email-error")],
    );
    // Only the pre-chat form takes focus; in the chat, the composer keeps it.
    if prechat {
        attr(&email, "data-autofocus", Some(""));
    }
    email.set_value(&known);
    bind_attr(&email, "aria-invalid", move || Some(error.get().to_string()));
    let name = prechat.then(|| {
        let label = tag(&form, "label", "cw-field");
        tag_text(&label, "span", "", strings.name_label());
        let name: HtmlInputElement = tag(&label, "input", "cw-name-input").unchecked_into();
        attrs(&name, &[("type", "text"), ("autocomplete", "name"), ("maxlength", "80")]);
        name
    });
    let said = tag(&form, "p", "cw-error");
    attrs(&said, &[("id", "cw-email-error"), ("role", "alert")]);
    bind_text(&said, move || if error.get() { strings.invalid_email() } else { "" }.to_owned());
    let actions = tag(&form, "div", "cw-actions");
    let save = tag_text(&actions, "button", "cw-button", if prechat { strings.start_chat() } else { strings.save() });
    attr(&save, "type", Some("submit"));
    if !prechat {
        let skip = tag_text(&actions, "button", "cw-text-button", strings.skip());
        attr(&skip, "type", Some("button"));
        on(&skip, "click", move |ev| {
            refocus(&ev, ".cw-input");
            chat.email_skipped.set(true);
            done();
        });
    }

    on(&form, "submit", move |ev| {
        ev.prevent_default();
        match Email::parse(&email.value()) {
            Ok(parsed) => {
                error.set(false);
                if !prechat {
                    // The form goes; the composer is where the visitor was writing.
                    refocus(&ev, ".cw-input");
                }
                let name = name.as_ref().map(|f| f.value().trim().to_owned()).filter(|n| !n.is_empty());
                chat.set_contact(Contact { email: Some(parsed), name });
                done();
            }
            Err(_) => {
                // Said again on every try: an alert whose text did not change is not read out.
                error.set(false);
                request_animation_frame(move || error.set(true));
                let _ = email.focus();
            }
        }
    });
}
