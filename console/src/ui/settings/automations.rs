//! The site's automations: webhook endpoints and the events each wants, the key their calls
//! are signed with, and the delivery log.

use super::{saving_line, Saving};
use crate::api;
use crate::state::desk::Desk;
use leptos::prelude::*;
use protocol::automations::{Automations, DeliveryLog, DeliveryState, EventKind, Webhook};
use protocol::SafeUrl;

/// A webhook as the form holds it: the URL as typed, checked on save.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    url: String,
    events: Vec<EventKind>,
}

type Rows = Vec<(u32, Row)>;

fn numbered(automations: Automations) -> Rows {
    (0..).zip(automations.webhooks.into_iter().map(|w| Row { url: w.url.to_string(), events: w.events })).collect()
}

fn event_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ConversationCreated => "Conversation created",
        EventKind::VisitorMessage => "Visitor message",
        EventKind::ConversationAssigned => "Assigned or transferred",
        EventKind::ConversationClosed => "Conversation closed",
        EventKind::ConversationErased => "Data erased",
    }
}

fn checked(rows: &Rows) -> Result<Automations, String> {
    let webhooks = rows
        .iter()
        .map(|(_, row)| {
            let url = SafeUrl::parse(row.url.trim()).map_err(|e| format!("{}: {}", row.url.trim(), e.message))?;
            Ok(Webhook { url, events: row.events.clone() })
        })
        .collect::<Result<_, String>>()?;
    Ok(Automations { webhooks })
}

#[component]
pub fn AutomationSettings(desk: Desk) -> impl IntoView {
    let rows = RwSignal::new(Rows::new());
    let saving = RwSignal::new(Saving::Idle);
    let secret = RwSignal::new(None::<String>);
    let log = RwSignal::new(None::<DeliveryLog>);
    // Editing starts once the stored endpoints are here, so a load cannot undo an edit.
    let loaded = RwSignal::new(false);
    let site = desk.site();
    let refresh_log = move || {
        let site = desk.site();
        leptos::task::spawn_local(async move {
            if let Ok(found) = desk.session.settle(api::deliveries(&site).await) {
                log.set(Some(found));
            }
        });
    };
    leptos::task::spawn_local(async move {
        if let Ok(found) = desk.session.settle(api::automations(&site).await) {
            rows.set(numbered(found));
            loaded.set(true);
        }
    });
    refresh_log();
    let add = move |_| {
        rows.update(|rows| {
            let id = rows.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
            rows.push((id, Row { url: String::new(), events: EventKind::ALL.to_vec() }));
        })
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let automations = match checked(&rows.get_untracked()) {
            Ok(automations) => automations,
            Err(why) => return saving.set(Saving::Failed(why)),
        };
        saving.set(Saving::Busy);
        let site = desk.site();
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::save_automations(&site, &automations).await) {
                Ok(stored) => {
                    rows.set(numbered(stored));
                    saving.set(Saving::Saved);
                }
                Err(why) => saving.set(Saving::Failed(why)),
            }
        });
    };
    let show_secret = move |_| {
        let site = desk.site();
        leptos::task::spawn_local(async move {
            if let Ok(found) = desk.session.settle(api::webhook_secret(&site).await) {
                secret.set(Some(found));
            }
        });
    };
    let ids = move || rows.with(|rows| rows.iter().map(|(id, _)| *id).collect::<Vec<_>>());

    view! {
        <section class="settings-section" aria-labelledby="automations-title">
            <h2 id="automations-title">"Automations"</h2>
            <p class="hint">
                "Each endpoint gets a signed POST for the events it wants: the body is JSON, its HMAC-SHA256 (hex) is in X-Chat-Signature. Failed calls are retried. Nothing is sent about blocked visitors."
            </p>
            <form class="automations-form" novalidate on:submit=save on:input=move |_| saving.set(Saving::Idle)>
                <ul class="webhook-rows">
                    <For each=ids key=|id| *id children=move |id| view! { <WebhookRow rows=rows id=id/> }/>
                </ul>
                <div class="form-actions">
                    <button type="button" class="quiet" data-testid="webhook-add" disabled=move || !loaded.get() on:click=add>
                        "Add endpoint"
                    </button>
                    <button type="submit" class="primary" data-testid="automations-save" disabled=move || saving.get() == Saving::Busy>
                        "Save automations"
                    </button>
                    {saving_line(saving, "automations-saved", "Saved")}
                </div>
            </form>
            <p>
                {move || match secret.get() {
                    Some(key) => view! { <span>"Signing key: " <code data-testid="webhook-secret">{key}</code></span> }.into_any(),
                    None => view! { <button type="button" class="quiet" on:click=show_secret>"Show the signing key"</button> }.into_any(),
                }}
            </p>
            <h3>"Deliveries"</h3>
            <button type="button" class="quiet" on:click=move |_| refresh_log()>"Refresh"</button>
            {move || log.get().map(|log| view! { <DeliveryTable log=log/> })}
        </section>
    }
}

#[component]
fn WebhookRow(rows: RwSignal<Rows>, id: u32) -> impl IntoView {
    let url = move || rows.with(|rows| rows.iter().find(|(i, _)| *i == id).map(|(_, r)| r.url.clone()).unwrap_or_default());
    let wants = move |kind: EventKind| rows.with(|rows| rows.iter().any(|(i, r)| *i == id && r.events.contains(&kind)));
    let toggle = move |kind: EventKind, on: bool| {
        rows.update(|rows| {
            if let Some((_, row)) = rows.iter_mut().find(|(i, _)| *i == id) {
                row.events.retain(|e| *e != kind);
                if on {
                    row.events.push(kind);
                }
            }
        })
    };
    view! {
        <li class="webhook-row">
            <div class="field">
                <label for=format!("webhook-url-{id}")>"Endpoint URL"</label>
                <input
                    id=format!("webhook-url-{id}")
                    type="url"
                    data-testid="webhook-url"
                    prop:value=url
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        rows.update(|rows| {
                            if let Some((_, row)) = rows.iter_mut().find(|(i, _)| *i == id) {
                                row.url = value;
                            }
                        })
                    }
                />
            </div>
            <fieldset class="webhook-events">
                <legend>"Events"</legend>
                {EventKind::ALL
                    .into_iter()
                    .map(|kind| {
                        let input_id = format!("webhook-{id}-{kind:?}");
                        let label_for = input_id.clone();
                        view! {
                            <label class="check" for=label_for>
                                <input
                                    id=input_id
                                    type="checkbox"
                                    prop:checked=move || wants(kind)
                                    on:change=move |ev| toggle(kind, event_target_checked(&ev))
                                />
                                {event_label(kind)}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <button type="button" class="link" on:click=move |_| rows.update(|rows| rows.retain(|(i, _)| *i != id))>
                "Remove"
            </button>
        </li>
    }
}

#[component]
fn DeliveryTable(log: DeliveryLog) -> impl IntoView {
    if log.deliveries.is_empty() {
        return view! { <p class="muted">"No deliveries yet."</p> }.into_any();
    }
    view! {
        <table class="table" data-testid="deliveries">
            <thead>
                <tr>
                    <th scope="col">"Event"</th>
                    <th scope="col">"Endpoint"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Calls"</th>
                </tr>
            </thead>
            <tbody>
                {log
                    .deliveries
                    .into_iter()
                    .map(|d| {
                        let state = match d.state {
                            DeliveryState::Pending => "Retrying".to_owned(),
                            DeliveryState::Delivered => "Delivered".to_owned(),
                            DeliveryState::Failed => format!("Failed: {}", d.last_error.unwrap_or_default()),
                        };
                        view! {
                            <tr>
                                <td>{event_label(d.event)}</td>
                                <td class="break">{d.url}</td>
                                <td>{state}</td>
                                <td>{d.attempts}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
