//! The conversation: the site's greeting, an earlier conversation when there is one, the
//! messages in seq order with the visitor's unsent ones last, then who is typing and the
//! agent's suggested replies. Every text is a text node, never HTML; links are http(s) only
//! (checked by the protocol) and open in a new tab without access to this page.

use super::chips::{chips, Chip};
use super::dom::{attr, attrs, bind_attr, collect, element, link, on, slot, tag, tag_text, text, Listeners};
use super::notices::notices;
use super::refocus;
use crate::chat::Chat;
use crate::reactive::effect;
use crate::thread::{Delivery, Entry};
use leptos::prelude::*;
use protocol::{Author, Card, Seq};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, Node};

/// How close to the end of the thread still counts as at its end (rounding, a last pixel).
const AT_END_PX: i32 = 24;

pub fn message_list(parent: &Node, chat: &'static Chat) {
    let strings = chat.strings;
    let thread = chat.thread;
    let list: HtmlElement = tag(parent, "div", "cw-scroll").unchecked_into();
    attrs(&list, &[("tabindex", "0"), ("aria-label", strings.messages_label())]);

    // Follow the conversation while the visitor is at its end, whatever changed it (a message,
    // the earlier conversation, a notice, the email form); leave them be once they have
    // scrolled back to read, until they write or open the panel again. Meanwhile a button
    // says that new messages came, and takes them there.
    let pinned = Rc::new(Cell::new(true));
    let unseen = RwSignal::new(false);
    on(&list, "scroll", {
        let (pinned, list) = (pinned.clone(), list.clone());
        move |_| {
            let at_end = list.scroll_height() - list.scroll_top() - list.client_height() <= AT_END_PX;
            pinned.set(at_end);
            if at_end && unseen.get_untracked() {
                unseen.set(false);
            }
        }
    });
    let to_end = {
        let (pinned, list) = (pinned.clone(), list.clone());
        move || {
            pinned.set(true);
            unseen.set(false);
            list.set_scroll_top(list.scroll_height());
        }
    };
    let mut seen: Option<(bool, usize, usize)> = None;
    effect({
        let (to_end, list) = (to_end.clone(), list.clone());
        move || {
            let open = chat.open.get();
            let (written, received) = thread.with(|t| {
                let mine = t.entries().iter().filter(|e| e.is_mine()).count();
                (mine, t.entries().len() - mine)
            });
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
        }
    });

    slot(&list, move |at| {
        chat.earlier.with(|earlier| {
            if earlier.is_empty() {
                return;
            }
            let section = tag(at, "section", "cw-earlier");
            attr(&section, "aria-label", Some(strings.earlier_conversation()));
            tag_text(&section, "h3", "cw-divider", strings.earlier_conversation());
            let rows = tag(&section, "ol", "cw-messages");
            for entry in earlier {
                // What the agent read there is not known any more.
                let _ = rows.append_child(&message_row(entry, chat).element);
            }
            tag_text(&section, "p", "cw-divider", strings.chat_ended());
        })
    });
    slot(&list, move |at| {
        let greeting = chat.settings.with(|s| s.greeting.clone());
        if !greeting.is_empty() {
            attr(&tag_text(at, "p", "cw-greeting", &greeting), "dir", Some("auto"));
        }
    });
    thread_rows(&list, chat);
    slot(&list, move |at| {
        if let Some(name) = chat.view.with(|v| v.agent_typing.clone()) {
            tag_text(at, "p", "cw-typing", &strings.typing().replace("{name}", &name));
        }
    });
    // A memo: a new message that leaves them as they were does not redraw them (and take the
    // focus from the one the visitor is on).
    let suggested = Memo::new(move |_| thread.with(|t| t.open_suggestions()));
    slot(&list, move |at| {
        let replies = suggested.get().into_iter().map(|text| Chip {
            class: "cw-chip",
            label: text.clone(),
            pick: Box::new(move |ev| {
                refocus(ev, ".cw-input");
                chat.send(text.clone());
            }),
        });
        chips(at, "cw-suggestions", strings.suggested_replies(), replies.collect());
    });
    // What the visitor should know now (away, ended, blocked, the email form) is the latest
    // thing in the conversation, and scrolls with it.
    notices(&list, chat);
    let jump = tag_text(&list, "button", "cw-jump", strings.new_messages());
    attr(&jump, "type", Some("button"));
    bind_attr(&jump, "hidden", move || (!unseen.get()).then(String::new));
    on(&jump, "click", move |_| {
        to_end();
        // The button goes away: the thread takes the focus it had.
        let _ = list.focus();
    });
}

/// A drawn message, known by what it was drawn from: the row is drawn again when the entry's
/// key, delivery or seq changes, and only "seen" follows the agent's reading in place.
struct Row {
    key: (String, Delivery, Option<Seq>),
    element: Element,
    /// The delivery state's text, for the visitor's sent messages.
    sent_state: Option<web_sys::Text>,
    _listeners: Listeners,
}

/// The thread's messages, kept in the order of the thread's entries.
fn thread_rows(parent: &Node, chat: &'static Chat) {
    let list = tag(parent, "ol", "cw-messages");
    let mut rows: Vec<Row> = Vec::new();
    effect(move || {
        let read = chat.view.with(|v| v.read.agent);
        chat.thread.with(|t| {
            // "Seen" goes under the visitor's newest message the agent has read.
            let newest_own = t.entries().iter().filter(|e| e.is_mine()).filter_map(|e| e.seq).max();
            let seen = newest_own.filter(|&s| s <= read);
            let mut old: Vec<Option<Row>> = std::mem::take(&mut rows).into_iter().map(Some).collect();
            // Rows kept where they are, new ones put in place, none moved without need (a
            // moved row would lose the focus of a button in it).
            let mut cursor = list.first_child();
            // Where the next kept row most likely is: rows stay in order, so a message that
            // arrives costs one look per row, not a search of all of them.
            let mut next = 0;
            for entry in t.entries() {
                let key = (entry.key(), entry.delivery, entry.seq);
                let found = (next..old.len()).chain(0..next).find(|&i| old[i].as_ref().is_some_and(|r| r.key == key));
                let row = match found {
                    Some(i) => {
                        next = i + 1;
                        old[i].take().expect("found")
                    }
                    None => {
                        let (row, listeners) = collect(|| message_row(entry, chat));
                        Row { _listeners: listeners, ..row }
                    }
                };
                let node: &Node = &row.element;
                if cursor.as_ref() == Some(node) {
                    cursor = node.next_sibling();
                } else {
                    let _ = list.insert_before(node, cursor.as_ref());
                }
                if let Some(state) = &row.sent_state {
                    let text = if entry.seq.is_some() && entry.seq == seen { chat.strings.seen() } else { chat.strings.sent() };
                    if state.data() != text {
                        state.set_data(text);
                    }
                }
                rows.push(row);
            }
            for row in old.into_iter().flatten() {
                row.element.remove();
            }
        });
    });
}

/// Keeps `list` scrolled to its end after any change inside it or to its size, while `pinned`.
fn follow_changes(list: &HtmlElement, pinned: Rc<Cell<bool>>) {
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

/// One message, drawn once for what it shows (not yet in the page).
fn message_row(entry: &Entry, chat: &'static Chat) -> Row {
    let strings = chat.strings;
    let mine = entry.is_mine();
    let row = element("li", if mine { "cw-message cw-mine" } else { "cw-message cw-theirs" });
    if let Some(seq) = entry.seq {
        attr(&row, "data-seq", Some(&seq.to_string()));
    }
    let author = match &entry.author {
        Author::Visitor => strings.you(),
        Author::Agent { name, .. } => name.as_str(),
    };
    tag_text(&row, "span", "cw-author", author);
    let (body_class, body) = if entry.deleted { ("cw-body cw-deleted", strings.message_deleted()) } else { ("cw-body", entry.body.as_str()) };
    if !body.is_empty() {
        let body = tag_text(&row, "p", body_class, body);
        if !entry.deleted {
            attr(&body, "dir", Some("auto"));
        }
        if entry.edited && !entry.deleted {
            tag_text(&body, "span", "cw-edited", &format!(" ({})", strings.edited()));
        }
    }
    match &entry.card {
        Some(Card::Article { title, summary, url }) => {
            let card = tag(&row, "div", "cw-card");
            attr(&tag_text(&card, "p", "cw-card-title", title), "dir", Some("auto"));
            attr(&tag_text(&card, "p", "cw-card-summary", summary), "dir", Some("auto"));
            link(&card, "cw-card-link", url.as_str(), strings.read_article());
        }
        Some(Card::Link { label, url }) => {
            link(&row, "cw-button cw-link-card", url.as_str(), label);
        }
        None => {}
    }
    let mut sent_state = None;
    if mine {
        let failed = entry.delivery == Delivery::Failed;
        let state = tag(&row, "span", if failed { "cw-state cw-failed" } else { "cw-state" });
        match entry.delivery {
            Delivery::Sending => {
                text(&state, strings.sending());
            }
            Delivery::Sent => sent_state = Some(text(&state, strings.sent())),
            Delivery::Failed => {
                attr(&state, "role", Some("alert"));
                let why = match &entry.error {
                    Some(why) => format!("{}: {why}", strings.not_sent()),
                    None => strings.not_sent().to_owned(),
                };
                text(&state, &why);
                text(&state, " ");
                let retry = tag_text(&state, "button", "cw-retry", strings.retry());
                attr(&retry, "type", Some("button"));
                let client_id = entry.client_id.clone();
                on(&retry, "click", move |ev| {
                    refocus(&ev, ".cw-input");
                    chat.retry(&client_id);
                });
            }
        }
    }
    Row { key: (entry.key(), entry.delivery, entry.seq), element: row, sent_state, _listeners: Listeners::default() }
}
