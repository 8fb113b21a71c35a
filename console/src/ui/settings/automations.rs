//! The site's automations: webhook endpoints, the events each wants and the fields its body
//! carries under which names, the key their calls are signed with, and the delivery log.

use super::{saving_line, Saving};
use crate::api;
use crate::state::desk::Desk;
use leptos::prelude::*;
use protocol::automations::{Automations, Bot, DeliveryLog, DeliveryState, EventKind, FieldMapping, Webhook, WebhookField};
use protocol::{AgentName, SafeUrl};

/// A webhook as the form holds it: the URL as typed, checked on save. Mapped fields are
/// numbered, so they keep their identity (and focus) when others are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    url: String,
    events: Vec<EventKind>,
    fields: Vec<(u32, FieldMapping)>,
}

type Rows = Vec<(u32, Row)>;

fn numbered(automations: Automations) -> Rows {
    let row = |w: Webhook| Row { url: w.url.to_string(), events: w.events, fields: (0..).zip(w.fields).collect() };
    (0..).zip(automations.webhooks.into_iter().map(row)).collect()
}

/// Changes the webhook row `id`, if it is still there.
fn edit_row(rows: RwSignal<Rows>, id: u32, change: impl FnOnce(&mut Row)) {
    rows.update(|rows| {
        if let Some((_, row)) = rows.iter_mut().find(|(i, _)| *i == id) {
            change(row);
        }
    })
}

fn field_label(field: WebhookField) -> &'static str {
    match field {
        WebhookField::Event => "Event",
        WebhookField::SiteName => "Site name",
        WebhookField::ConversationId => "Conversation id",
        WebhookField::At => "Time (ms since 1970)",
        WebhookField::VisitorName => "Visitor name",
        WebhookField::VisitorEmail => "Visitor email",
        WebhookField::PageUrl => "Page",
        WebhookField::Text => "Message text",
        WebhookField::AgentName => "Agent name",
    }
}

/// The field's own name in a whole event: where a new mapping's name starts.
fn field_name(field: WebhookField) -> String {
    serde_json::to_value(field).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
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

/// The site's bot as the form holds it: off, or its endpoint and name as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct BotForm {
    on: bool,
    url: String,
    name: String,
}

impl BotForm {
    fn new(bot: Option<Bot>) -> BotForm {
        match bot {
            Some(bot) => BotForm { on: true, url: bot.url.to_string(), name: bot.name.to_string() },
            None => BotForm::default(),
        }
    }

    fn checked(&self) -> Result<Option<Bot>, String> {
        if !self.on {
            return Ok(None);
        }
        let url = SafeUrl::parse(self.url.trim()).map_err(|e| format!("Bot endpoint: {}", e.message))?;
        let name = AgentName::parse(self.name.trim()).map_err(|e| format!("Bot name: {}", e.message))?;
        Ok(Some(Bot { url, name }))
    }
}

fn checked(rows: &Rows, bot: &BotForm) -> Result<Automations, String> {
    let webhooks = rows
        .iter()
        .map(|(_, row)| {
            let url = SafeUrl::parse(row.url.trim()).map_err(|e| format!("{}: {}", row.url.trim(), e.message))?;
            let fields = row.fields.iter().map(|(_, mapping)| mapping.clone()).collect();
            Ok(Webhook { url, events: row.events.clone(), fields })
        })
        .collect::<Result<_, String>>()?;
    Ok(Automations { webhooks, bot: bot.checked()? })
}

#[component]
pub fn AutomationSettings(desk: Desk) -> impl IntoView {
    let rows = RwSignal::new(Rows::new());
    let bot = RwSignal::new(BotForm::default());
    let saving = RwSignal::new(Saving::Idle);
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
    // Until what is stored has loaded, nothing can be saved: an empty form saved over it
    // would remove every endpoint and the bot.
    let load_failed = RwSignal::new(None::<String>);
    leptos::task::spawn_local(async move {
        match desk.session.settle(api::automations(&site).await) {
            Ok(found) => {
                bot.set(BotForm::new(found.bot.clone()));
                rows.set(numbered(found));
                loaded.set(true);
            }
            Err(why) => load_failed.set(Some(format!("The automations could not be loaded ({why}); reload the page to change them."))),
        }
    });
    refresh_log();
    let add = move |_| {
        rows.update(|rows| {
            let id = rows.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
            rows.push((id, Row { url: String::new(), events: EventKind::ALL.to_vec(), fields: Vec::new() }));
        })
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !loaded.get_untracked() {
            return;
        }
        let automations = match checked(&rows.get_untracked(), &bot.get_untracked()) {
            Ok(automations) => automations,
            Err(why) => return saving.set(Saving::Failed(why)),
        };
        saving.set(Saving::Busy);
        let site = desk.site();
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::save_automations(&site, &automations).await) {
                Ok(stored) => {
                    bot.set(BotForm::new(stored.bot.clone()));
                    rows.set(numbered(stored));
                    saving.set(Saving::Saved);
                }
                Err(why) => saving.set(Saving::Failed(why)),
            }
        });
    };
    let ids = move || rows.with(|rows| rows.iter().map(|(id, _)| *id).collect::<Vec<_>>());

    view! {
        <section class="settings-section" aria-labelledby="automations-title">
            <h2 id="automations-title">"Automations"</h2>
            <p class="hint">
                "Each endpoint gets a signed POST for the events it wants: the body is JSON; X-Chat-Signature is the HMAC-SHA256 (hex) of \"{X-Chat-Timestamp}.{X-Chat-Delivery}.{body}\"; refuse calls whose timestamp is minutes off. Failed calls are retried under the same X-Chat-Delivery, for three days; after that they wait in the log below, to be sent again. Nothing is sent about blocked visitors. The body carries every field under its own name, or only the fields you choose, under the names your endpoint expects."
            </p>
            {move || load_failed.get().map(|why| view! { <p class="form-error" role="alert">{why}</p> })}
            <form class="automations-form" novalidate on:submit=save on:input=move |_| saving.set(Saving::Idle)>
                <ul class="webhook-rows">
                    <For each=ids key=|id| *id children=move |id| view! { <WebhookRow rows=rows id=id/> }/>
                </ul>
                <BotSettings desk=desk bot=bot/>
                <div class="form-actions">
                    <button type="button" class="quiet" data-testid="webhook-add" disabled=move || !loaded.get() on:click=add>
                        "Add endpoint"
                    </button>
                    <button
                        type="submit"
                        class="primary"
                        data-testid="automations-save"
                        disabled=move || !loaded.get() || saving.get() == Saving::Busy
                    >
                        "Save automations"
                    </button>
                    {saving_line(saving, "automations-saved", "Saved")}
                </div>
            </form>
            <ShownKey desk=desk which=SiteKey::Signing/>
            <h3>"Deliveries"</h3>
            <button type="button" class="quiet" on:click=move |_| refresh_log()>"Refresh"</button>
            {move || log.get().map(|log| view! { <DeliveryTable desk=desk log=log on_change=Callback::new(move |_| refresh_log())/> })}
        </section>
    }
}

/// A key derived for the site that admins hand to its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SiteKey {
    /// Webhook calls (and calls to the bot) are signed with it.
    Signing,
    /// The bot answers with it.
    Bot,
}

impl SiteKey {
    async fn fetch(self, site: &protocol::SiteId) -> Result<String, api::ApiError> {
        match self {
            SiteKey::Signing => api::webhook_secret(site).await,
            SiteKey::Bot => api::bot_key(site).await,
        }
    }

    /// Its name, and the test id of the shown key.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            SiteKey::Signing => ("signing key", "webhook-secret"),
            SiteKey::Bot => ("bot key", "bot-key"),
        }
    }
}

/// The key, fetched and shown only when the admin asks for it.
#[component]
fn ShownKey(desk: Desk, which: SiteKey) -> impl IntoView {
    let key = RwSignal::new(None::<String>);
    let (name, testid) = which.words();
    let show = move |_| {
        let site = desk.site();
        leptos::task::spawn_local(async move {
            if let Ok(found) = desk.session.settle(which.fetch(&site).await) {
                key.set(Some(found));
            }
        });
    };
    view! {
        <p>
            {move || match key.get() {
                Some(key) => view! { <span>{format!("The {name}: ")} <code data-testid=testid>{key}</code></span> }.into_any(),
                None => view! { <button type="button" class="quiet" on:click=show>{format!("Show the {name}")}</button> }.into_any(),
            }}
        </p>
    }
}

/// The site's bot: new conversations start with it until it hands them over.
#[component]
fn BotSettings(desk: Desk, bot: RwSignal<BotForm>) -> impl IntoView {
    view! {
        <fieldset class="bot-settings">
            <legend>"Bot"</legend>
            <label class="check" for="bot-on">
                <input id="bot-on" type="checkbox" data-testid="bot-on" prop:checked=move || bot.with(|b| b.on)
                    on:change=move |ev| bot.update(|b| b.on = event_target_checked(&ev))/>
                "Start new conversations with a bot"
            </label>
            <p class="hint">
                "It gets a signed POST, like a webhook, when a conversation starts and for each visitor message. It answers with POST /api/bot/conversations/{id}/messages and hands over to the queue with POST /api/bot/conversations/{id}/handover, sending its key as Authorization: Bearer. An agent may take over at any time."
            </p>
            <Show when=move || bot.with(|b| b.on)>
                <div class="field">
                    <label for="bot-url">"Bot endpoint URL"</label>
                    <input id="bot-url" type="url" placeholder="https://" data-testid="bot-url" prop:value=move || bot.with(|b| b.url.clone())
                        on:input=move |ev| bot.update(|b| b.url = event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="bot-name">"Name visitors see"</label>
                    <input id="bot-name" data-testid="bot-name" prop:value=move || bot.with(|b| b.name.clone())
                        on:input=move |ev| bot.update(|b| b.name = event_target_value(&ev))/>
                </div>
                <ShownKey desk=desk which=SiteKey::Bot/>
            </Show>
        </fieldset>
    }
}

#[component]
fn WebhookRow(rows: RwSignal<Rows>, id: u32) -> impl IntoView {
    let url = move || rows.with(|rows| rows.iter().find(|(i, _)| *i == id).map(|(_, r)| r.url.clone()).unwrap_or_default());
    let wants = move |kind: EventKind| rows.with(|rows| rows.iter().any(|(i, r)| *i == id && r.events.contains(&kind)));
    let toggle = move |kind: EventKind, on: bool| {
        edit_row(rows, id, |row| {
            row.events.retain(|e| *e != kind);
            if on {
                row.events.push(kind);
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
                    placeholder="https://"
                    data-testid="webhook-url"
                    prop:value=url
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        edit_row(rows, id, |row| row.url = value);
                    }
                />
            </div>
            <fieldset class="webhook-events">
                <legend>"Events"</legend>
                {EventKind::ALL
                    .into_iter()
                    .enumerate()
                    .map(|(n, kind)| {
                        let input_id = format!("webhook-{id}-event-{n}");
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
            <FieldMappings rows=rows id=id/>
            <button type="button" class="link" on:click=move |_| rows.update(|rows| rows.retain(|(i, _)| *i != id))>
                "Remove endpoint"
            </button>
        </li>
    }
}

/// Which fields webhook `id` sends, under which names; none chosen: every field.
#[component]
fn FieldMappings(rows: RwSignal<Rows>, id: u32) -> impl IntoView {
    let numbers = move || {
        rows.with(|rows| rows.iter().find(|(i, _)| *i == id).map(|(_, r)| r.fields.iter().map(|(n, _)| *n).collect()).unwrap_or_else(Vec::new))
    };
    let add = move |_| {
        edit_row(rows, id, |row| {
            let n = row.fields.iter().map(|(n, _)| n + 1).max().unwrap_or(0);
            // The next field not yet sent, under its own name: the admin renames it.
            let field = WebhookField::ALL.into_iter().find(|f| !row.fields.iter().any(|(_, m)| m.field == *f)).unwrap_or(WebhookField::Event);
            row.fields.push((n, FieldMapping { field, key: field_name(field) }));
        })
    };
    view! {
        <fieldset class="webhook-fields">
            <legend>"Body"</legend>
            <Show when=move || numbers().is_empty()>
                <p class="hint">"Every field, under its own name."</p>
            </Show>
            <ul class="field-maps">
                <For each=numbers key=|n| *n children=move |n| view! { <FieldMappingRow rows=rows id=id n=n/> }/>
            </ul>
            <button type="button" class="quiet" data-testid="webhook-field-add" on:click=add>"Choose a field"</button>
        </fieldset>
    }
}

#[component]
fn FieldMappingRow(rows: RwSignal<Rows>, id: u32, n: u32) -> impl IntoView {
    let mapping = move || {
        rows.with(|rows| {
            rows.iter().find(|(i, _)| *i == id).and_then(|(_, r)| r.fields.iter().find(|(m, _)| *m == n).map(|(_, mapping)| mapping.clone()))
        })
    };
    let edit = move |change: &dyn Fn(&mut FieldMapping)| {
        edit_row(rows, id, |row| {
            if let Some((_, mapping)) = row.fields.iter_mut().find(|(m, _)| *m == n) {
                change(mapping);
            }
        })
    };
    let select_id = format!("webhook-{id}-field-{n}");
    let key_id = format!("webhook-{id}-key-{n}");
    view! {
        <li class="field-map">
            <label for=select_id.clone()>"Field"</label>
            <select
                id=select_id
                data-testid="webhook-field"
                on:change=move |ev| {
                    let chosen = event_target_value(&ev).parse::<usize>().ok().and_then(|i| WebhookField::ALL.get(i).copied());
                    if let Some(field) = chosen {
                        edit(&|mapping| mapping.field = field);
                    }
                }
            >
                {WebhookField::ALL
                    .into_iter()
                    .enumerate()
                    .map(|(i, field)| {
                        view! {
                            <option value=i.to_string() selected=move || mapping().is_some_and(|m| m.field == field)>
                                {field_label(field)}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <label for=key_id.clone()>"Sent as"</label>
            <input
                id=key_id
                type="text"
                data-testid="webhook-key"
                maxlength=protocol::automations::MAX_FIELD_KEY_CHARS.to_string()
                prop:value=move || mapping().map(|m| m.key).unwrap_or_default()
                on:input=move |ev| {
                    let key = event_target_value(&ev);
                    edit(&|mapping| mapping.key = key.clone());
                }
            />
            <button
                type="button"
                class="link"
                aria-label="Remove this field"
                on:click=move |_| edit_row(rows, id, |row| row.fields.retain(|(m, _)| *m != n))
            >
                "Remove"
            </button>
        </li>
    }
}


/// The newest deliveries; one that failed for good can be sent again.
#[component]
fn DeliveryTable(desk: Desk, log: DeliveryLog, on_change: Callback<()>) -> impl IntoView {
    let problem = RwSignal::new(None::<String>);
    let send_again = move |id: u64| {
        let site = desk.site();
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::send_delivery_again(&site, id).await) {
                Ok(_) => {
                    problem.set(None);
                    on_change.run(());
                }
                Err(why) => problem.set(Some(format!("It could not be sent again: {why}"))),
            }
        });
    };
    if log.deliveries.is_empty() {
        return view! { <p class="muted">"No deliveries yet."</p> }.into_any();
    }
    view! {
        {move || problem.get().map(|why| view! { <p class="form-error" role="alert">{why}</p> })}
        <table class="table" data-testid="deliveries">
            <thead>
                <tr>
                    <th scope="col">"Event"</th>
                    <th scope="col">"Endpoint"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Calls"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {log
                    .deliveries
                    .into_iter()
                    .map(|d| {
                        let id = d.id;
                        let failed = d.state == DeliveryState::Failed;
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
                                <td>
                                    {failed.then(|| view! {
                                        <button type="button" class="link" data-testid="delivery-send-again" on:click=move |_| send_again(id)>
                                            "Send again"
                                        </button>
                                    })}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
