//! The conversation: the site's greeting, an earlier conversation when there is one, the
//! messages in seq order with the visitor's unsent ones last, then who is typing and the
//! agent's suggested replies. Every text is a text node, never HTML; links are http(s) only
//! (checked by the protocol) and open in a new tab without access to this page.

use super::chips::{chips, Chip};
use super::notices::Notices;
use super::refocus;
use crate::chat::Chat;
use crate::reactive::effect;
use crate::thread::{Delivery, Entry};
use leptos::either::Either;
use leptos::html;
use leptos::prelude::*;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use protocol::{Author, Card};

/// How close to the end of the thread still counts as at its end (rounding, a last pixel).
const AT_END_PX: i32 = 24;

#[component]
pub fn MessageList(chat: &'static Chat) -> impl IntoView {
    let strings = chat.strings;
    let thread = chat.thread;
    let list: NodeRef<html::Div> = NodeRef::new();

    // Follow the conversation while the visitor is at its end, whatever changed it (a message,
    // the earlier conversation, a notice, the email form); leave them be once they have
    // scrolled back to read, until they write or open the panel again. Meanwhile a button
    // says that new messages came, and takes them there.
    let pinned = Rc::new(Cell::new(true));
    let unseen = RwSignal::new(false);
    let on_scroll = {
        let pinned = pinned.clone();
        move |_| {
            if let Some(list) = list.get_untracked() {
                let at_end = list.scroll_height() - list.scroll_top() - list.client_height() <= AT_END_PX;
                pinned.set(at_end);
                if at_end && unseen.get_untracked() {
                    unseen.set(false);
                }
            }
        }
    };
    let to_end = {
        let pinned = pinned.clone();
        move || {
            pinned.set(true);
            unseen.set(false);
            if let Some(list) = list.get_untracked() {
                list.set_scroll_top(list.scroll_height());
            }
        }
    };
    let jump = {
        let to_end = to_end.clone();
        move |_: web_sys::MouseEvent| {
            to_end();
            // The button goes away: the thread takes the focus it had.
            if let Some(list) = list.get_untracked() {
                let _ = list.focus();
            }
        }
    };
    let mut seen: Option<(bool, usize, usize)> = None;
    effect(move || {
        let open = chat.open.get();
        let (written, received) = thread.with(|t| {
            let mine = t.entries().iter().filter(|e| e.is_mine()).count();
            (mine, t.entries().len() - mine)
        });
        let Some(list) = list.get() else { return };
        // Later changes while pinned are the observer's to follow.
        match seen.replace((open, written, received)) {
            None => {
                follow_changes(&list, pinned.clone());
                to_end();
            }
            Some((was_open, had_written, _)) if (open && !was_open) || written > had_written => to_end(),
            Some((_, _, had_received)) if received > had_received && !pinned.get() => unseen.set(true),
            Some(_) => {}
        }
    });

    let greeting = move || chat.settings.with(|s| s.greeting.clone());
    let earlier = move || {
        chat.earlier.with(|e| !e.is_empty()).then(|| {
            view! {
                <section class="cw-earlier" aria-label=strings.earlier_conversation()>
                    <h3 class="cw-divider">{strings.earlier_conversation()}</h3>
                    {rows(chat, chat.earlier.into())}
                    <p class="cw-divider">{strings.chat_ended()}</p>
                </section>
            }
        })
    };
    let typing = move || {
        chat.view.with(|v| v.agent_typing.clone()).map(|name| {
            view! { <p class="cw-typing">{strings.typing().replace("{name}", &name)}</p> }
        })
    };
    let suggestions = move || {
        let offered = thread.with(|t| t.open_suggestions());
        let replies = offered.into_iter().map(|text| Chip {
            class: "cw-chip",
            label: text.clone(),
            pick: Box::new(move |ev| {
                refocus(ev, ".cw-input");
                chat.send(text.clone());
            }),
        });
        chips("cw-suggestions", strings.suggested_replies(), replies.collect())
    };

    view! {
        <div class="cw-scroll" node_ref=list tabindex="0" aria-label=strings.messages_label() on:scroll=on_scroll>
            {earlier}
            {move || (!greeting().is_empty()).then(|| view! { <p class="cw-greeting" dir="auto">{greeting}</p> })}
            {rows(chat, Signal::derive(move || thread.with(|t| t.entries().to_vec())))}
            {typing}
            {suggestions}
            // What the visitor should know now (away, ended, blocked, the email form) is the
            // latest thing in the conversation, and scrolls with it.
            <Notices chat=chat/>
            <button type="button" class="cw-jump" hidden=move || !unseen.get() on:click=jump>{strings.new_messages()}</button>
        </div>
    }
}

/// A conversation's messages in order: the thread's, and the earlier conversation's. One list
/// for both, since every list written out is its own copy of the keyed list's code.
fn rows(chat: &'static Chat, entries: Signal<Vec<Entry>>) -> impl IntoView {
    view! {
        <ol class="cw-messages">
            <For
                each=move || entries.get()
                key=|entry: &Entry| (entry.key(), entry.delivery, entry.seq)
                children=move |entry: Entry| view! { <MessageRow entry=entry chat=chat/> }
            />
        </ol>
    }
}

/// Keeps `list` scrolled to its end after any change inside it or to its size, while `pinned`.
fn follow_changes(list: &web_sys::HtmlDivElement, pinned: Rc<Cell<bool>>) {
    let target = list.clone();
    let follow = Closure::<dyn FnMut()>::new(move || {
        if pinned.get() {
            target.set_scroll_top(target.scroll_height());
        }
    });
    let Ok(changes) = web_sys::MutationObserver::new(follow.as_ref().unchecked_ref()) else { return };
    let what = web_sys::MutationObserverInit::new();
    what.set_child_list(true);
    what.set_subtree(true);
    what.set_character_data(true);
    let _ = changes.observe_with_options(list, &what);
    // The thread's own size changes too: a phone's keyboard opening shrinks the panel, and
    // the end would go out of view below.
    if let Ok(size) = web_sys::ResizeObserver::new(follow.as_ref().unchecked_ref()) {
        size.observe(list);
    }
    // The list lives as long as the widget, and the observers with it.
    follow.forget();
}

#[component]
fn MessageRow(entry: Entry, chat: &'static Chat) -> impl IntoView {
    let strings = chat.strings;
    let mine = entry.is_mine();
    let author = match &entry.author {
        Author::Visitor => strings.you().to_owned(),
        Author::Agent { name, .. } => name.to_string(),
    };
    let client_id = entry.client_id.clone();
    let seq = entry.seq;
    let delivery = entry.delivery;
    // A row is drawn once for what it shows (the list's key changes with the delivery), so
    // each part is a plain value; only "seen" follows the agent's reading.
    let (body_class, body) = if entry.deleted {
        ("cw-body cw-deleted", strings.message_deleted().to_owned())
    } else {
        ("cw-body", entry.body)
    };
    let edited = (entry.edited && !entry.deleted).then(|| view! { <span class="cw-edited">" (" {strings.edited()} ")"</span> });
    let body = (!body.is_empty()).then(|| view! { <p class=body_class dir=(!entry.deleted).then_some("auto")>{body} {edited}</p> });
    let card = entry.card.map(|card| match card {
        Card::Article { title, summary, url } => Either::Left(view! {
            <div class="cw-card">
                <p class="cw-card-title" dir="auto">{title}</p>
                <p class="cw-card-summary" dir="auto">{summary}</p>
                <a class="cw-card-link" href=url.to_string() target="_blank" rel="noopener noreferrer">{strings.read_article()}</a>
            </div>
        }),
        Card::Link { label, url } => Either::Right(view! {
            <a class="cw-button cw-link-card" href=url.to_string() target="_blank" rel="noopener noreferrer">{label}</a>
        }),
    });
    // "Seen" goes under the visitor's newest message the agent has read.
    let seen = move || {
        let read = chat.view.with(|v| v.read.agent);
        let newest_own = chat.thread.with(|t| t.entries().iter().filter(|e| e.is_mine()).filter_map(|e| e.seq).max());
        seq.is_some_and(|s| s <= read && Some(s) == newest_own)
    };
    let failed = delivery == Delivery::Failed;
    let error = entry.error.map(|why| format!("{}: {why}", strings.not_sent())).unwrap_or_else(|| strings.not_sent().to_owned());
    let state_text = move || match delivery {
        Delivery::Sending => strings.sending().to_owned(),
        Delivery::Sent if seen() => strings.seen().to_owned(),
        Delivery::Sent => strings.sent().to_owned(),
        Delivery::Failed => error.clone(),
    };
    let retry = failed.then(|| {
        view! {
            " "
            <button type="button" class="cw-retry" on:click=move |ev| {
                refocus(&ev, ".cw-input");
                chat.retry(&client_id);
            }>
                {strings.retry()}
            </button>
        }
    });
    let state = mine.then(|| {
        view! {
            <span class=if failed { "cw-state cw-failed" } else { "cw-state" } role=failed.then_some("alert")>{state_text} {retry}</span>
        }
    });
    view! {
        <li class="cw-message" class:cw-mine=mine class:cw-theirs=!mine data-seq=entry.seq.map(|s| s.to_string())>
            <span class="cw-author">{author}</span>
            {body}
            {card}
            {state}
        </li>
    }
}
