//! What the visitor should know about the conversation right now: nobody is online (and the
//! answer comes by email), the chat ended, or they are blocked; and the in-chat email form.

use super::email_form::EmailForm;
use super::refocus;
use crate::chat::Chat;
use leptos::prelude::*;
use protocol::site::EmailCapture;
use protocol::Status;

/// What the notice area shows; a memo, so the email form is not rebuilt (and what the
/// visitor typed into it lost) whenever a message arrives.
#[derive(Clone, PartialEq)]
enum Notice {
    None,
    LinkExpired,
    Deleted,
    Blocked,
    Ended,
    /// Nobody online, async on: the answer comes by email (to this address, if known);
    /// `ask` shows the email form.
    Away { email: Option<String>, ask: bool },
}

#[component]
pub fn Notices(chat: &'static Chat) -> impl IntoView {
    let strings = chat.strings;
    let editing_email = RwSignal::new(false);
    let notice = Memo::new(move |_| {
        if !chat.ready.get() {
            return Notice::None;
        }
        let (async_mode, capture) = chat.settings.with(|s| (s.async_mode, s.email_capture));
        let empty = chat.thread.with(|t| t.entries().is_empty());
        if chat.deleted.get() && empty {
            return Notice::Deleted;
        }
        if chat.link_expired.get() && empty {
            return Notice::LinkExpired;
        }
        match chat.view.with(|v| v.status) {
            Status::Blocked => Notice::Blocked,
            Status::Deleted => Notice::Deleted,
            Status::Ended => Notice::Ended,
            Status::Open if chat.agents_online.get() || !async_mode => Notice::None,
            Status::Open => {
                let email = chat.contact.with(|c| c.email.as_ref().map(|e| e.to_string()));
                // Ask once the visitor has written, unless we know the email or they said not
                // now; and whenever they asked to change it.
                let ask = editing_email.get()
                    || (capture != EmailCapture::Off
                        && chat.thread.with(|t| t.visitor_wrote())
                        && email.is_none()
                        && !chat.email_skipped.get());
                Notice::Away { email: email.filter(|_| !editing_email.get()), ask }
            }
        }
    });
    // The notices that are a line of text share one shape (each shape is code in the wasm).
    let line = |class: &'static str, role: &'static str, text: String| view! { <p class=class role=role>{text}</p> }.into_any();
    move || match notice.get() {
        Notice::None => ().into_any(),
        Notice::Deleted => line("cw-notice", "status", strings.deleted().to_owned()),
        Notice::LinkExpired => line("cw-notice", "alert", strings.link_expired().to_owned()),
        Notice::Blocked => line("cw-notice cw-notice-strong", "status", strings.blocked().to_owned()),
        Notice::Ended => line("cw-notice", "status", [strings.chat_ended(), strings.write_to_start_new()].join(" ")),
        Notice::Away { email, ask } => view! {
            <div class="cw-notice" role="status">
                <p>{strings.away_async()}</p>
                {email.map(|email| view! {
                    <p class="cw-reply-to">
                        {strings.reply_to_email().replace("{email}", &email)} " "
                        <button type="button" class="cw-text-button" on:click=move |ev| {
                            refocus(&ev, ".cw-email-input");
                            editing_email.set(true);
                        }>
                            {strings.change_email()}
                        </button>
                    </p>
                })}
            </div>
            {ask.then(|| view! { <EmailForm chat=chat prechat=false on_done=Callback::new(move |_| editing_email.set(false))/> })}
        }
        .into_any(),
    }
}
