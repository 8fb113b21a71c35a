//! What an agent can do with the open conversation: accept, transfer, end, block, erase,
//! mute its alerts.

use crate::api;
use crate::browser;
use crate::live::conversation::Conversation;
use leptos::prelude::*;
use protocol::{AgentId, ClientFrame, Status};

/// The transfer select's value for "back to the queue".
const QUEUE: &str = "queue";

#[component]
pub fn Actions(conversation: Conversation) -> impl IntoView {
    let desk = conversation.desk;
    let me = StoredValue::new(desk.my_id());
    let info = conversation.info;
    let open = Memo::new(move |_| info.with(|i| i.status == Status::Open));
    let waiting = Memo::new(move |_| info.with(|i| i.status == Status::Open && i.assignee.is_none()));
    // The site's bot has it (as the inbox says): accepting takes it over from the bot.
    let with_bot = move || {
        let id = conversation.id();
        desk.inbox.with(|inbox| inbox.get(&id).is_some_and(|e| e.bot))
    };
    let mine = Memo::new(move |_| info.with(|i| i.assignee.as_ref().is_some_and(|a| a.id == me.get_value())));
    let may_transfer = move || open.get() && (mine.get() || desk.is_admin());
    let transfer_to = RwSignal::new(String::new());
    // Ended, blocked or handed on: the button pressed has gone, and focus with it.
    Effect::new(move |before: Option<(Status, bool)>| {
        let now = (info.with(|i| i.status), mine.get());
        if before.is_some_and(|before| before != now) {
            browser::refocus_if_lost(&["#composer:not(:disabled)", ".actions button"]);
        }
        now
    });

    // Other online agents; those at their limit are said to be.
    let targets = move || {
        let current = info.with(|i| i.assignee.as_ref().map(|a| a.id.clone()));
        desk.agents.with(|agents| {
            agents
                .iter()
                .filter(|a| a.online && a.id != me.get_value() && Some(&a.id) != current.as_ref())
                .map(|a| {
                    let label = if a.at_limit { format!("{} (chats exceeded)", a.name) } else { a.name.to_string() };
                    (a.id.to_string(), label)
                })
                .collect::<Vec<_>>()
        })
    };
    let transfer = move |_| {
        let choice = transfer_to.get_untracked();
        let to = match choice.as_str() {
            "" => return conversation.problem.set(Some("Choose who to transfer the conversation to.".into())),
            QUEUE => None,
            // Chosen while they were online; their option has gone since.
            id if !targets().iter().any(|(target, _)| target == id) => {
                transfer_to.set(String::new());
                return conversation.problem.set(Some("That agent is no longer online: choose again.".into()));
            }
            id => AgentId::parse(id).ok(),
        };
        if conversation.act(ClientFrame::Transfer { to }) {
            transfer_to.set(String::new());
        }
    };
    let block = move |_| {
        if browser::confirm("Block this visitor? They will not be able to write again.") {
            conversation.act(ClientFrame::Block);
        }
    };
    let erase = move |_| {
        if browser::confirm("Delete this conversation's messages and contact details for good?") {
            let id = conversation.id();
            leptos::task::spawn_local(async move {
                if let Err(why) = desk.session.settle(api::erase_conversation(&id).await) {
                    conversation.problem.set(Some(why));
                }
            });
        }
    };

    view! {
        <div class="actions" role="group" aria-label="Conversation actions">
            <Show when=move || waiting.get()>
                <button type="button" class="primary" data-testid="accept" on:click=move |_| {
                    if conversation.act(ClientFrame::Accept) {
                        crate::browser::focus_composer();
                    }
                }>{move || if with_bot() { "Take over from the bot" } else { "Accept" }}</button>
            </Show>
            <Show when=may_transfer>
                <span class="transfer">
                    <label class="sr-only" for="transfer-select">"Transfer to"</label>
                    <select
                        id="transfer-select"
                        data-testid="transfer-select"
                        on:change=move |ev| transfer_to.set(event_target_value(&ev))
                    >
                        <option value="" prop:selected=move || transfer_to.with(String::is_empty)>"Transfer to…"</option>
                        {move || targets()
                            .into_iter()
                            .map(|(id, label)| {
                                let value = id.clone();
                                view! { <option value=id prop:selected=move || transfer_to.with(|t| *t == value)>{label}</option> }
                            })
                            .collect_view()}
                        <Show when=move || !waiting.get()>
                            <option value=QUEUE prop:selected=move || transfer_to.with(|t| t == QUEUE)>"Back to queue"</option>
                        </Show>
                    </select>
                    <button type="button" data-testid="transfer" on:click=transfer>"Transfer"</button>
                </span>
            </Show>
            <Show when=move || open.get()>
                <button type="button" data-testid="end" on:click=move |_| {
                    conversation.act(ClientFrame::End);
                }>"End chat"</button>
            </Show>
            <Show when=move || info.with(|i| matches!(i.status, Status::Open | Status::Ended))>
                <button type="button" class="danger" data-testid="block" on:click=block>"Block visitor"</button>
            </Show>
            // Deleting is for good: an admin's, the responsible agent's, or anyone's while
            // nobody is responsible (the relay holds the same rule).
            <Show when=move || info.with(|i| i.status != Status::Deleted && (i.assignee.is_none() || mine.get() || desk.is_admin()))>
                <button type="button" class="danger" data-testid="delete-data" on:click=erase>"Delete data"</button>
            </Show>
            <button
                type="button"
                data-testid="mute"
                aria-pressed=move || if conversation.muted.get() { "true" } else { "false" }
                on:click=move |_| conversation.set_muted(!conversation.muted.get_untracked())
            >
                "Mute alerts"
            </button>
        </div>
    }
}
