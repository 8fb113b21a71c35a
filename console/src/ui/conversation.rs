//! The open conversation: who it is with and where it stands, the actions, the thread and
//! the composer.

use super::actions::Actions;
use super::composer::Composer;
use super::thread::ThreadView;
use crate::live::conversation::Conversation;
use crate::state::words::{contact_label, email_status, status_label};
use leptos::prelude::*;
use protocol::Author;

#[component]
pub fn ConversationView(conversation: Conversation) -> impl IntoView {
    let info = conversation.info;
    let title = move || info.with(|i| contact_label(&i.contact));
    let email = move || info.with(|i| i.contact.email.as_ref().map(|e| e.to_string()));
    let status = move || info.with(|i| status_label(i.status));
    let assignee = move || info.with(|i| i.assignee.as_ref().map_or_else(|| "Nobody yet".to_owned(), |a| a.name.to_string()));
    let typing = move || {
        let names: Vec<String> = conversation.typing.with(|t| {
            t.iter()
                .map(|(author, _)| match author {
                    Author::Visitor => "Visitor".to_owned(),
                    Author::Agent { name, .. } => name.to_string(),
                })
                .collect()
        });
        (!names.is_empty()).then(|| {
            let verb = if names.len() == 1 { "is" } else { "are" };
            view! { <p class="typing" data-testid="typing">{format!("{} {verb} typing…", names.join(" and "))}</p> }
        })
    };

    view! {
        <main
            class="conversation"
            data-testid="conversation-view"
            data-conversation-id=conversation.id().to_string()
            aria-labelledby="conversation-title"
            // Busy until the conversation's connection is welcomed: actions wait for it.
            aria-busy=move || if conversation.connected.get() { "false" } else { "true" }
        >
            <header class="conversation-head">
                <div class="conversation-who">
                    <h1 id="conversation-title" class="conversation-title">{title}</h1>
                    <p class="conversation-facts">
                        {move || email().map(|email| view! { <span>{email}</span> })}
                        <span class="status-pill">{status}</span>
                        <span>"Responsible: " <strong data-testid="assignee">{assignee}</strong></span>
                        {move || (!conversation.connected.get()).then(|| view! { <span class="muted">"Connecting…"</span> })}
                    </p>
                </div>
                <Actions conversation=conversation/>
            </header>
            {move || conversation.problem.get().map(|problem| view! {
                <p class="banner" role="alert">
                    {problem} " "
                    <button type="button" class="link" on:click=move |_| conversation.problem.set(None)>"Dismiss"</button>
                </p>
            })}
            {move || info.with(|i| i.email.clone()).map(|status| view! {
                <p class="email-status" data-testid="email-status">{email_status(&status)}</p>
            })}
            <ThreadView conversation=conversation/>
            <div class="typing-line" aria-live="polite">{typing}</div>
            <Composer conversation=conversation/>
        </main>
    }
}
