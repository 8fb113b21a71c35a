//! The site's canned responses: add, edit, remove, save all at once.

use super::{saving_line, Saving};
use crate::api;
use crate::state::desk::Desk;
use leptos::prelude::*;
use protocol::inbox::{CannedResponse, CannedResponses};

/// Rows are numbered so that each keeps its inputs when others are removed.
type Rows = Vec<(u32, CannedResponse)>;

fn numbered(canned: CannedResponses) -> Rows {
    (0..).zip(canned.responses).collect()
}

#[component]
pub fn CannedSettings(desk: Desk) -> impl IntoView {
    let rows = RwSignal::new(Rows::new());
    let saving = RwSignal::new(Saving::Idle);
    // The form shows once the latest list has come (the desk's copy may be older, or still on
    // its way), so no answer can arrive after the admin started editing and undo their work.
    let loaded = RwSignal::new(false);
    let site = desk.site();
    leptos::task::spawn_local(async move {
        let canned = match desk.session.settle(api::canned(&site).await) {
            Ok(canned) => {
                desk.canned.set(canned.clone());
                canned
            }
            Err(_) => desk.canned.get_untracked(),
        };
        // Setting a signal of a view the admin already left does nothing.
        rows.set(numbered(canned));
        loaded.set(true);
    });
    let add = move |_| {
        rows.update(|rows| {
            let id = rows.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
            rows.push((id, CannedResponse { name: String::new(), text: String::new() }));
        })
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let canned = CannedResponses { responses: rows.get_untracked().into_iter().map(|(_, r)| r).collect() };
        saving.set(Saving::Busy);
        let site = desk.site();
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::save_canned(&site, &canned).await) {
                Ok(stored) => {
                    desk.canned.set(stored.clone());
                    rows.set(numbered(stored));
                    saving.set(Saving::Saved);
                }
                Err(why) => saving.set(Saving::Failed(why)),
            }
        });
    };
    let ids = move || rows.with(|rows| rows.iter().map(|(id, _)| *id).collect::<Vec<_>>());

    view! {
        <section class="settings-section" aria-labelledby="canned-title">
            <h2 id="canned-title">"Canned responses"</h2>
            <p class="hint">"Agents insert them by typing // and part of the name or text."</p>
            <Show when=move || loaded.get() fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <form class="canned-form" novalidate on:submit=save on:input=move |_| saving.set(Saving::Idle)>
                    <ul class="canned-rows">
                        <For each=ids key=|id| *id children=move |id| view! { <CannedRow rows=rows id=id/> }/>
                    </ul>
                    <div class="form-actions">
                        <button type="button" class="quiet" data-testid="canned-add" on:click=add>"Add response"</button>
                        <button type="submit" class="primary" data-testid="canned-save" disabled=move || saving.get() == Saving::Busy>
                            "Save responses"
                        </button>
                        {saving_line(saving, "canned-saved", "Saved")}
                    </div>
                </form>
            </Show>
        </section>
    }
}

#[component]
fn CannedRow(rows: RwSignal<Rows>, id: u32) -> impl IntoView {
    let read = move |pick: fn(&CannedResponse) -> &String| {
        move || rows.with(|rows| rows.iter().find(|(i, _)| *i == id).map(|(_, r)| pick(r).clone()).unwrap_or_default())
    };
    let write = move |pick: fn(&mut CannedResponse) -> &mut String, value: String| {
        rows.update(|rows| {
            if let Some((_, response)) = rows.iter_mut().find(|(i, _)| *i == id) {
                *pick(response) = value;
            }
        })
    };
    view! {
        <li class="canned-row">
            <div class="field">
                <label for=format!("canned-name-{id}")>"Name"</label>
                <input
                    id=format!("canned-name-{id}")
                    data-testid="canned-name"
                    prop:value=read(|r| &r.name)
                    on:input=move |ev| write(|r| &mut r.name, event_target_value(&ev))
                />
            </div>
            <div class="field field-grow">
                <label for=format!("canned-text-{id}")>"Text"</label>
                <textarea
                    id=format!("canned-text-{id}")
                    data-testid="canned-text"
                    rows="2"
                    prop:value=read(|r| &r.text)
                    on:input=move |ev| write(|r| &mut r.text, event_target_value(&ev))
                ></textarea>
            </div>
            <button type="button" class="link" on:click=move |_| rows.update(|rows| rows.retain(|(i, _)| *i != id))>
                "Remove"
            </button>
        </li>
    }
}
