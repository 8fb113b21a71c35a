//! Alerts on screen: a polite live region for screen readers and a toast per alert, each with
//! a way to open its conversation.

use crate::state::desk::{Desk, Toast};
use leptos::prelude::*;

#[component]
pub fn Alerts(desk: Desk) -> impl IntoView {
    view! {
        <section class="alerts" aria-label="Alerts" data-testid="alerts">
            <p class="sr-only" aria-live="polite" aria-atomic="true">{move || desk.announcement.get()}</p>
            <ul class="toasts">
                <For
                    each=move || desk.toasts.get()
                    key=|toast: &Toast| toast.id
                    children=move |toast: Toast| {
                        let id = toast.id;
                        let conversation = toast.conversation_id.clone();
                        view! {
                            <li class="toast" data-testid="alert">
                                <p class="toast-text">{toast.text}</p>
                                {toast.contact.map(|who| view! { <p class="toast-contact muted">{who}</p> })}
                                <div class="toast-actions">
                                    <button type="button" class="primary" on:click=move |_| {
                                        desk.dismiss(id);
                                        desk.open_conversation(conversation.clone());
                                    }>"Open conversation"</button>
                                    <button type="button" class="quiet" on:click=move |_| desk.dismiss(id)>"Dismiss"</button>
                                </div>
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
}
