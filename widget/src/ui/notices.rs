//! What the visitor should know about the conversation right now: nobody is online (and the
//! answer comes by email), the chat ended, or they are blocked; and the in-chat email form.

use super::email_form::EmailForm;
use crate::chat::Chat;
use leptos::prelude::*;
use protocol::site::EmailCapture;
use protocol::Status;

#[component]
pub fn Notices(chat: Chat) -> impl IntoView {
    let strings = chat.strings;
    let editing_email = RwSignal::new(false);
    move || {
        if !chat.ready.get() {
            return ().into_any();
        }
        let status = chat.view.with(|v| v.status);
        let nobody_online = !chat.agents_online.get();
        let (async_mode, capture) = chat.settings.with(|s| (s.async_mode, s.email_capture));
        let email = chat.contact.with(|c| c.email.clone());
        match status {
            Status::Blocked => {
                return view! { <p class="cw-notice cw-notice-strong" role="status">{strings.blocked}</p> }.into_any()
            }
            Status::Ended => {
                return view! {
                    <p class="cw-notice" role="status">
                        {strings.chat_ended} " " {strings.write_to_start_new}
                    </p>
                }
                .into_any()
            }
            Status::Open => {}
        }
        if !(nobody_online && async_mode) {
            return ().into_any();
        }
        // Nobody online, async on: say the answer comes by email, and ask for one once the
        // visitor has written (in-chat capture), unless we know it or they said not now.
        let wrote = chat.thread.with(|t| t.visitor_wrote());
        let ask = capture != EmailCapture::Off
            && wrote
            && (email.is_none() || editing_email.get())
            && !chat.email_skipped.get();
        view! {
            <div class="cw-notice" role="status">
                <p>{strings.away_async}</p>
                {email.filter(|_| !editing_email.get()).map(|email| view! {
                    <p class="cw-reply-to">
                        {strings.reply_to_email.replace("{email}", email.as_str())} " "
                        <button type="button" class="cw-text-button" on:click=move |_| editing_email.set(true)>
                            {strings.change_email}
                        </button>
                    </p>
                })}
            </div>
            {ask.then(|| view! { <EmailForm chat=chat prechat=false on_done=Callback::new(move |_| editing_email.set(false))/> })}
        }
        .into_any()
    }
}
