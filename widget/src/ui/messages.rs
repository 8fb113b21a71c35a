//! The conversation: stored messages in seq order, then the visitor's unsent ones with their
//! delivery state. Bodies are text nodes, never HTML.

use crate::connection::Link;
use crate::thread::{Delivery, Entry};
use leptos::html;
use leptos::prelude::*;
use protocol::Author;

#[component]
pub fn MessageList(link: Link) -> impl IntoView {
    let thread = link.thread;
    let list: NodeRef<html::Ol> = NodeRef::new();

    // Keep the newest message in view.
    Effect::new(move |_| {
        thread.track();
        if let Some(list) = list.get() {
            list.set_scroll_top(list.scroll_height());
        }
    });

    view! {
        <ol class="cw-messages" node_ref=list aria-live="polite" aria-label="Messages">
            <For
                each=move || thread.with(|t| t.entries().to_vec())
                key=|entry: &Entry| (entry.key(), entry.delivery, entry.seq)
                children=move |entry: Entry| view! { <MessageRow entry=entry link=link/> }
            />
        </ol>
    }
}

#[component]
fn MessageRow(entry: Entry, link: Link) -> impl IntoView {
    let mine = entry.is_mine();
    let author = match &entry.author {
        Author::Visitor => "You".to_owned(),
        Author::Agent { name } => name.to_string(),
    };
    let client_id = entry.client_id.clone();
    let state = match entry.delivery {
        _ if !mine => None,
        Delivery::Sending => Some(view! { <span class="cw-state">"Sending…"</span> }.into_any()),
        Delivery::Sent => Some(view! { <span class="cw-state">"Sent"</span> }.into_any()),
        Delivery::Failed => Some(
            view! {
                <span class="cw-state cw-failed" role="alert">
                    "Not sent" {entry.error.map(|why| format!(": {why}"))} " "
                    <button type="button" class="cw-retry" on:click=move |_| link.retry(&client_id)>
                        "Retry"
                    </button>
                </span>
            }
            .into_any(),
        ),
    };
    view! {
        <li class="cw-message" class:cw-mine=mine class:cw-theirs=!mine data-seq=entry.seq.map(|s| s.to_string())>
            <span class="cw-author">{author}</span>
            <p class="cw-body">{entry.body}</p>
            {state}
        </li>
    }
}
