//! The left column: four tabs (Waiting, Mine, Others, Closed) and their conversations.

use super::outbound::Outbound;
use crate::state::desk::Desk;
use crate::state::words::{contact_label, time_ago};
use leptos::prelude::*;
use protocol::inbox::{InboxEntry, InboxList};
use protocol::{ConversationId, Status};
use wasm_bindgen::JsCast;

const TABS: [(InboxList, &str, &str); 4] = [
    (InboxList::Waiting, "Waiting", "waiting"),
    (InboxList::Mine, "Mine", "mine"),
    (InboxList::Others, "Others", "others"),
    (InboxList::Closed, "Closed", "closed"),
];

fn tab_id(list: InboxList) -> String {
    let name = TABS.iter().find(|(l, ..)| *l == list).map_or("waiting", |(_, _, name)| name);
    format!("tab-{name}")
}

/// Arrow keys move between tabs, as in any tab list.
fn neighbour(list: InboxList, key: &str) -> Option<InboxList> {
    let at = TABS.iter().position(|(l, ..)| *l == list)?;
    let next = match key {
        "ArrowRight" => (at + 1) % TABS.len(),
        "ArrowLeft" => (at + TABS.len() - 1) % TABS.len(),
        "Home" => 0,
        "End" => TABS.len() - 1,
        _ => return None,
    };
    Some(TABS[next].0)
}

fn focus(id: &str) {
    let element = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id));
    if let Some(element) = element.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = element.focus();
    }
}

#[component]
pub fn Lists(desk: Desk) -> impl IntoView {
    let me = StoredValue::new(desk.my_id());
    let tabs = TABS.map(|(list, label, name)| {
        let count = Memo::new(move |_| desk.inbox.with(|i| i.count(list, &me.get_value())));
        let selected = move || desk.tab.get() == list;
        view! {
            <button
                type="button"
                role="tab"
                id=tab_id(list)
                class="tab"
                data-testid=format!("tab-{name}")
                aria-selected=move || if selected() { "true" } else { "false" }
                aria-controls="inbox-rows"
                tabindex=move || if selected() { "0" } else { "-1" }
                on:click=move |_| desk.tab.set(list)
                on:keydown=move |ev| {
                    if let Some(next) = neighbour(list, &ev.key()) {
                        ev.prevent_default();
                        desk.tab.set(next);
                        focus(&tab_id(next));
                    }
                }
            >
                {label}
                // A badge only when something needs someone: every waiting conversation, elsewhere
                // the unread ones. Its word says which, to screen readers and on hover.
                {move || {
                    let n = count.get();
                    let what = if list == InboxList::Waiting { "waiting" } else { "unread" };
                    (n > 0).then(|| view! {
                        <span class="tab-count" title=format!("{n} {what}") data-testid="tab-count">{n}</span>
                        <span class="sr-only">{what}</span>
                    })
                }}
            </button>
        }
    });
    let rows = Memo::new(move |_| {
        let list = desk.tab.get();
        desk.inbox.with(|i| i.list(list, &me.get_value()))
    });
    // The open conversation leaves Waiting for Mine when this agent takes it (accepts,
    // answers, or is handed it): the list goes with it, so the conversation being worked on
    // stays in view, marked as the open one.
    Effect::new(move |was: Option<Option<(ConversationId, InboxList)>>| {
        let open = desk.open.get()?;
        let now = desk.inbox.with(|i| i.get(&open).map(|e| e.list_for(&me.get_value())))?;
        let taken = was.flatten().is_some_and(|(id, list)| id == open && list == InboxList::Waiting && now == InboxList::Mine);
        if taken && desk.tab.get_untracked() == InboxList::Waiting {
            desk.tab.set(InboxList::Mine);
        }
        Some((open, now))
    });

    view! {
        <nav class="lists" aria-label="Conversations">
            <Outbound desk=desk/>
            <div class="tabs" role="tablist" aria-label="Inbox">
                {tabs.into_iter().collect_view()}
            </div>
            <div
                class="rows"
                id="inbox-rows"
                role="tabpanel"
                tabindex="-1"
                aria-labelledby=move || tab_id(desk.tab.get())
            >
                <Show
                    when=move || rows.with(|r| !r.is_empty())
                    fallback=|| view! { <p class="rows-empty muted">"No conversations here."</p> }
                >
                    <ul class="row-list">
                        <For
                            each=move || rows.get()
                            key=|id: &ConversationId| id.clone()
                            children=move |id: ConversationId| view! { <Row desk=desk id=id/> }
                        />
                    </ul>
                </Show>
                <Show when=move || desk.tab.get() == InboxList::Closed && desk.inbox.with(|i| i.more_closed)>
                    <OlderClosed desk=desk/>
                </Show>
            </div>
        </nav>
    }
}

/// The Closed list shows the newest closed conversations; older ones come a page at a time.
#[component]
fn OlderClosed(desk: Desk) -> impl IntoView {
    let loading = RwSignal::new(false);
    view! {
        <button
            type="button"
            class="quiet older-closed"
            data-testid="closed-more"
            aria-busy=move || loading.get().then_some("true")
            on:click=move |_| {
                if loading.get_untracked() {
                    return;
                }
                loading.set(true);
                desk.load_older_closed(move || {
                    loading.set(false);
                    // The last page came and the button went: the keyboard goes on from the
                    // oldest conversation.
                    crate::browser::refocus_if_lost(&["#inbox-rows li:last-child .row"]);
                });
            }
        >
            {move || if loading.get() { "Loading…" } else { "Show older conversations" }}
        </button>
    }
}

/// One conversation in a list. The button stays (and keeps focus) as its entry changes.
#[component]
fn Row(desk: Desk, id: ConversationId) -> impl IntoView {
    let key = StoredValue::new(id.clone());
    let entry = Memo::new(move |_| desk.inbox.with(|i| i.get(&key.get_value()).cloned()));
    let read = move |f: fn(&InboxEntry) -> String| move || entry.with(|e| e.as_ref().map(f).unwrap_or_default());
    let unread = move || entry.with(|e| e.as_ref().map_or(0, |e| e.unread));
    let updated_at = move || entry.with(|e| e.as_ref().map_or(0, |e| e.updated_at));
    let selected = move || desk.open.with(|open| open.as_ref() == Some(&key.get_value()));
    view! {
        <li>
            <button
                type="button"
                class="row"
                class:row-unread=Signal::derive(move || unread() > 0)
                data-testid="conversation-row"
                data-conversation-id=id.to_string()
                aria-current=move || selected().then_some("true")
                on:click=move |_| desk.open_conversation(key.get_value())
            >
                <span class="row-top">
                    <span class="row-name">{read(|e| contact_label(&e.contact))}</span>
                    <span class="row-time">{move || time_ago(desk.now.get(), updated_at())}</span>
                </span>
                <span class="row-preview">
                    {read(|e| if e.preview.is_empty() { "No messages yet".to_owned() } else { e.preview.clone() })}
                </span>
                <span class="row-bottom">
                    <span class="row-assignee">
                        {read(|e| match (&e.assignee, e.status) {
                            (Some(agent), _) => agent.name.to_string(),
                            (None, Status::Open) if e.bot => "With the bot".to_owned(),
                            (None, Status::Open) => "Waiting".to_owned(),
                            (None, _) => "Unassigned".to_owned(),
                        })}
                    </span>
                    {move || (unread() > 0).then(|| view! {
                        <span class="badge">{unread()} <span class="sr-only">" unread"</span></span>
                    })}
                </span>
            </button>
        </li>
    }
}
