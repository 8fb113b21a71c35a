//! The messages of the open conversation, oldest first, as a live log.

use crate::browser;
use crate::live::conversation::Conversation;
use crate::state::thread::{Delivery, Entry};
use crate::state::words::contact_label;
use leptos::html;
use leptos::prelude::*;
use protocol::{Author, Card, ClientMsgId};

/// Within this many pixels of the bottom, new messages keep the view at the bottom.
const STICKY_PX: i32 = 80;

#[component]
pub fn ThreadView(conversation: Conversation) -> impl IntoView {
    let thread = conversation.thread;
    let scroller: NodeRef<html::Div> = NodeRef::new();

    // Keep the newest message in view, unless the agent scrolled up to read.
    let stick = RwSignal::new(true);
    let at_bottom = move || {
        scroller.get_untracked().is_none_or(|e| e.scroll_height() - e.scroll_top() - e.client_height() < STICKY_PX)
    };
    Effect::new(move |_| {
        // Anything that changes the thread's height or the space around it.
        thread.track();
        conversation.info.track();
        conversation.typing.track();
        conversation.problem.track();
        if let (true, Some(element)) = (stick.get_untracked(), scroller.get()) {
            // After layout, so the new height counts.
            request_animation_frame(move || element.set_scroll_top(element.scroll_height()));
        }
    });

    // Read when it can be seen: caught up, page visible, new messages there.
    Effect::new(move |_| {
        thread.track();
        conversation.info.track();
        if conversation.desk.page_visible.get() {
            conversation.mark_read();
        }
    });

    view! {
        <div
            class="thread"
            node_ref=scroller
            role="log"
            aria-live="off"
            aria-label="Messages"
            tabindex="0"
            data-testid="thread"
            on:scroll=move |_| stick.set(at_bottom())
        >
            <ol class="messages">
                <For
                    each=move || thread.with(|t| t.entries().iter().map(|e| (e.author.clone(), e.client_id.clone())).collect::<Vec<_>>())
                    key=|identity| identity.clone()
                    children=move |(author, client_id)| view! { <MessageRow conversation=conversation author=author client_id=client_id/> }
                />
            </ol>
        </div>
    }
}

/// One message; it follows its entry through ack, edit and retraction.
#[component]
fn MessageRow(conversation: Conversation, author: Author, client_id: ClientMsgId) -> impl IntoView {
    let identity = StoredValue::new((author, client_id));
    let entry = Memo::new(move |_| {
        identity.with_value(|(author, client_id)| {
            conversation.thread.with(|t| t.entries().iter().find(|e| &e.author == author && &e.client_id == client_id).cloned())
        })
    });
    move || entry.get().map(|entry| message_view(conversation, entry))
}

fn message_view(conversation: Conversation, entry: Entry) -> impl IntoView {
    let mine = conversation.is_mine(&entry);
    let is_visitor = entry.author == Author::Visitor;
    let author = match &entry.author {
        // The visitor may give their name mid-conversation.
        Author::Visitor => (move || conversation.info.with(|i| contact_label(&i.contact))).into_any(),
        Author::Agent { name, .. } => name.to_string().into_any(),
    };
    let seq = entry.seq;
    let public_reply = entry.is_public_reply();
    let seen = move || {
        public_reply
            && seq.is_some()
            && conversation.thread.with(|t| t.seen_seq(conversation.info.with(|i| i.read.visitor))) == seq
    };
    let can_change = mine && !entry.deleted && entry.delivery == Delivery::Sent;
    let being_edited = move || seq.is_some() && conversation.editing.with(|e| e.as_ref().map(|(s, _)| *s) == seq);
    let body = StoredValue::new(entry.body.clone());
    let content = (!entry.body.is_empty())
        .then(|| view! { <p class="message-body" data-testid="message-body" dir="auto">{entry.body.clone()}</p> });
    let delivery = match entry.delivery {
        Delivery::Sent => None,
        Delivery::Sending => Some(view! { <p class="delivery">"Sending…"</p> }.into_any()),
        Delivery::Failed => {
            let client_id = entry.client_id.clone();
            Some(
                view! {
                    <p class="delivery delivery-failed">
                        "Not sent" {entry.error.clone().map(|why| format!(": {why}"))} " "
                        <button
                            type="button"
                            class="link"
                            on:click=move |_| {
                                conversation.retry(&client_id);
                                crate::browser::focus_composer();
                            }
                        >
                            "Retry"
                        </button>
                    </p>
                }
                .into_any(),
            )
        }
    };

    view! {
        <li
            class="message"
            class:message-visitor=is_visitor
            class:message-agent=!is_visitor
            class:message-note=entry.note
            class:message-mine=mine
            class:message-editing=being_edited
            data-testid="message"
            data-seq=seq.map(|s| s.to_string())
            data-role=entry.author.role().as_str()
            data-note=if entry.note { "true" } else { "false" }
        >
            <p class="message-meta">
                <span class="message-author">{author}</span>
                {entry.note.then(|| view! { <span class="note-label">"Private note"</span> })}
                {entry.sent_at.map(|at| view! { <span class="message-time">{browser::local_time(at)}</span> })}
                {(entry.edited && !entry.deleted).then(|| view! { <span class="muted">"(edited)"</span> })}
                {move || being_edited().then(|| view! { <span class="editing-label">"Editing in the composer…"</span> })}
            </p>
            {if entry.deleted {
                view! { <p class="message-body message-deleted" data-testid="message-body">"Message deleted"</p> }.into_any()
            } else {
                view! {
                    {content}
                    {entry.card.clone().map(card_view)}
                    {suggestions_view(entry.suggestions.clone())}
                }
                .into_any()
            }}
            {delivery}
            {move || seen().then(|| view! { <p class="seen">"Seen"</p> })}
            {can_change.then(|| {
                let seq = seq.unwrap_or_default();
                view! {
                    <div class="message-actions" hidden=being_edited>
                        <button
                            type="button"
                            class="link"
                            data-testid="edit"
                            on:click=move |_| conversation.editing.set(Some((seq, body.get_value())))
                        >
                            "Edit"
                        </button>
                        <button
                            type="button"
                            class="link"
                            data-testid="delete"
                            on:click=move |_| {
                                conversation.retract(seq);
                                crate::browser::focus_composer();
                            }
                        >
                            "Delete"
                        </button>
                    </div>
                }
            })}
        </li>
    }
}

/// Links only ever come from checked `SafeUrl`s, and open apart from the console.
fn card_view(card: Card) -> impl IntoView {
    match card {
        Card::Article { title, summary, url } => view! {
            <div class="card">
                <p class="card-title" dir="auto">{title}</p>
                <p class="card-summary" dir="auto">{summary}</p>
                <a class="card-link" href=url.to_string() target="_blank" rel="noopener noreferrer">{url.to_string()}</a>
            </div>
        }
        .into_any(),
        Card::Link { label, url } => view! {
            <div class="card">
                <a class="card-button" href=url.to_string() target="_blank" rel="noopener noreferrer">{label}</a>
                <span class="card-url muted">{url.to_string()}</span>
            </div>
        }
        .into_any(),
    }
}

fn suggestions_view(suggestions: Vec<String>) -> Option<impl IntoView> {
    (!suggestions.is_empty()).then(|| {
        view! {
            <div class="suggestions">
                <span class="muted">"Suggested replies:"</span>
                <ul class="chips">
                    {suggestions.into_iter().map(|s| view! { <li class="chip">{s}</li> }).collect_view()}
                </ul>
            </div>
        }
    })
}
