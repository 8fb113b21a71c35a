//! Writing first to a known contact by email (only while online: the visitor may answer at
//! once).

use crate::api;
use crate::browser::new_client_id;
use crate::state::desk::Desk;
use leptos::prelude::*;
use protocol::frames::validate_body;
use protocol::inbox::Outbound as OutboundRequest;
use protocol::{ClientMsgId, Email};

#[component]
pub fn Outbound(desk: Desk) -> impl IntoView {
    let open = RwSignal::new(false);
    let email = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // One id per message written: sending it again (a second click, a retry after an error)
    // cannot start it twice. Changing the message makes it another one.
    let attempt = StoredValue::new(None::<ClientMsgId>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let client_id = attempt.get_value().unwrap_or_else(new_client_id);
        attempt.set_value(Some(client_id.clone()));
        let request = Email::parse(&email.get_untracked())
            .map_err(|_| "Enter the contact's email address.".to_owned())
            .and_then(|email| {
                let body = validate_body(&body.get_untracked()).map_err(|e| e.message)?;
                Ok(OutboundRequest { email, body, client_id: Some(client_id) })
            });
        let request = match request {
            Ok(request) => request,
            Err(why) => return error.set(Some(why)),
        };
        busy.set(true);
        let site = desk.site();
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::start_outbound(&site, &request).await) {
                Ok(started) => {
                    attempt.set_value(None);
                    open.set(false);
                    email.set(String::new());
                    body.set(String::new());
                    error.set(None);
                    desk.open_conversation(started.conversation_id);
                }
                Err(why) => error.set(Some(why)),
            }
            busy.set(false);
        });
    };

    view! {
        <div class="outbound">
            <button
                type="button"
                class="primary wide"
                data-testid="outbound-open"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                aria-controls="outbound-form"
                disabled=move || !desk.online.get()
                title=move || (!desk.online.get()).then_some("Go online to start a conversation")
                on:click=move |_| open.update(|o| *o = !*o)
            >
                "Start conversation"
            </button>
            <form id="outbound-form" class="outbound-form" hidden=move || !open.get() novalidate on:submit=submit>
                <label for="outbound-email">"Contact's email"</label>
                <input
                    id="outbound-email"
                    type="email"
                    data-testid="outbound-email"
                    prop:value=move || email.get()
                    on:input=move |ev| {
                        attempt.set_value(None);
                        email.set(event_target_value(&ev));
                    }
                />
                <label for="outbound-body">"Message"</label>
                <textarea
                    id="outbound-body"
                    rows="3"
                    data-testid="outbound-body"
                    prop:value=move || body.get()
                    on:input=move |ev| {
                        attempt.set_value(None);
                        body.set(event_target_value(&ev));
                    }
                ></textarea>
                {move || error.get().map(|why| view! { <p class="form-error" role="alert">{why}</p> })}
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="outbound-send" disabled=move || busy.get()>
                        "Send"
                    </button>
                    <button type="button" class="quiet" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </div>
    }
}
