//! The team: every account (renamed, made admin or agent, given a new password, removed),
//! and a form to add one.

use super::{saving_line, Saving};
use crate::api;
use crate::state::desk::Desk;
use leptos::prelude::*;
use protocol::inbox::{validate_password, AccountChange, NewAccount, MIN_PASSWORD_CHARS};
use protocol::{Account, AccountRole, AgentName, Email};

fn role_label(role: AccountRole) -> &'static str {
    match role {
        AccountRole::Admin => "Admin",
        AccountRole::Agent => "Agent",
    }
}

#[component]
pub fn AgentSettings(desk: Desk) -> impl IntoView {
    let accounts = RwSignal::new(None::<Result<Vec<Account>, String>>);
    leptos::task::spawn_local(async move {
        accounts.set(Some(desk.session.settle(api::accounts().await).map(|list| list.accounts)));
    });
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(AccountRole::Agent);
    let password = RwSignal::new(String::new());
    let saving = RwSignal::new(Saving::Idle);

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let account = (|| {
            let email = Email::parse(&email.get_untracked()).map_err(|e| e.message)?;
            let name = AgentName::parse(&name.get_untracked()).map_err(|e| e.message)?;
            let password = password.get_untracked();
            validate_password(&password).map_err(|e| e.message)?;
            Ok::<_, String>(NewAccount { email, name, role: role.get_untracked(), password })
        })();
        let account = match account {
            Ok(account) => account,
            Err(why) => return saving.set(Saving::Failed(why)),
        };
        saving.set(Saving::Busy);
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::create_account(&account).await) {
                Ok(created) => {
                    accounts.update(|list| {
                        if let Some(Ok(list)) = list {
                            list.push(created);
                        }
                    });
                    email.set(String::new());
                    name.set(String::new());
                    password.set(String::new());
                    saving.set(Saving::Saved);
                }
                Err(why) => saving.set(Saving::Failed(why)),
            }
        });
    };

    // What the last change to an account did, for everyone to read and hear.
    let notice = RwSignal::new(None::<String>);
    let list = move || match accounts.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(why)) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
        Some(Ok(_)) => {
            // Keyed by what a row shows, so a changed account shows itself anew.
            let rows = move || match accounts.get() {
                Some(Ok(list)) => list,
                _ => Vec::new(),
            };
            view! {
                <ul class="agents" data-testid="agents-list">
                    <For
                        each=rows
                        key=|a| (a.id.clone(), a.name.clone(), a.role)
                        children=move |account| view! { <AccountRow desk=desk account=account accounts=accounts notice=notice/> }
                    />
                </ul>
            }
            .into_any()
        }
    };

    view! {
        <section class="settings-section" aria-labelledby="agents-title">
            <h2 id="agents-title">"Agents"</h2>
            <p class="saved" role="status" data-testid="accounts-notice">{move || notice.get()}</p>
            {list}
            <form class="agent-form" novalidate on:submit=create>
                <h3>"Add an agent"</h3>
                <div class="field">
                    <label for="agent-email">"Email"</label>
                    <input id="agent-email" type="email" data-testid="agent-email" autocomplete="off"
                        prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="agent-name">"Name"</label>
                    <input id="agent-name" data-testid="agent-name" autocomplete="off" aria-describedby="agent-name-hint"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    <p class="hint" id="agent-name-hint">"Visitors see this name."</p>
                </div>
                <RoleField id="agent-role".to_owned() testid="agent-role" role=role/>
                <div class="field">
                    <label for="agent-password">"Password"</label>
                    <input id="agent-password" type="password" data-testid="agent-password" autocomplete="new-password"
                        aria-describedby="agent-password-hint"
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                    <p class="hint" id="agent-password-hint">{format!("At least {MIN_PASSWORD_CHARS} characters.")}</p>
                </div>
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="agent-create" disabled=move || saving.get() == Saving::Busy>
                        "Create account"
                    </button>
                    {saving_line(saving, "agent-created", "Account created")}
                </div>
            </form>
        </section>
    }
}

/// Admin or agent, for a new account or a changed one.
#[component]
fn RoleField(id: String, testid: &'static str, role: RwSignal<AccountRole>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>"Role"</label>
            <select id=id data-testid=testid on:change=move |ev| {
                role.set(if event_target_value(&ev) == "admin" { AccountRole::Admin } else { AccountRole::Agent });
            }>
                <option value="agent" prop:selected=move || role.get() == AccountRole::Agent>"Agent"</option>
                <option value="admin" prop:selected=move || role.get() == AccountRole::Admin>"Admin"</option>
            </select>
        </div>
    }
}

type AccountsState = RwSignal<Option<Result<Vec<Account>, String>>>;

/// One account: who they are, and for admins a panel to change or remove it.
#[component]
fn AccountRow(desk: Desk, account: Account, accounts: AccountsState, notice: RwSignal<Option<String>>) -> impl IntoView {
    let id = account.id.clone();
    let is_online = {
        let id = id.clone();
        move || desk.agents.with(|agents| agents.iter().any(|a| a.id == id && a.online))
    };
    let open = RwSignal::new(false);
    let panel_id = format!("account-{}", account.id);
    view! {
        <li class="agent">
            <span class="agent-name">{account.name.to_string()}</span>
            <span class="muted">{account.email.to_string()}</span>
            <span class="status-pill">{role_label(account.role)}</span>
            {move || is_online().then(|| view! { <span class="online-pill">"Online"</span> })}
            <button
                type="button"
                class="link"
                data-testid="account-manage"
                aria-expanded=move || open.get().to_string()
                aria-controls=panel_id.clone()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {format!("Manage {}", account.name)}
            </button>
            <Show when=move || open.get()>
                <AccountPanel desk=desk account=account.clone() accounts=accounts notice=notice panel_id=panel_id.clone()/>
            </Show>
        </li>
    }
}

#[component]
fn AccountPanel(desk: Desk, account: Account, accounts: AccountsState, notice: RwSignal<Option<String>>, panel_id: String) -> impl IntoView {
    let name = RwSignal::new(account.name.to_string());
    let role = RwSignal::new(account.role);
    let password = RwSignal::new(String::new());
    let saving = RwSignal::new(Saving::Idle);
    let confirming = RwSignal::new(false);
    let id = StoredValue::new(account.id.clone());
    let replace = move |changed: Option<Account>| {
        accounts.update(|list| {
            if let Some(Ok(list)) = list {
                let at = list.iter().position(|a| a.id == id.get_value());
                match (at, changed) {
                    (Some(at), Some(changed)) => list[at] = changed,
                    (Some(at), None) => {
                        list.remove(at);
                    }
                    _ => {}
                }
            }
        })
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let change = (|| {
            let name = AgentName::parse(&name.get_untracked()).map_err(|e| e.message)?;
            let password = Some(password.get_untracked()).filter(|p| !p.is_empty());
            if let Some(password) = &password {
                validate_password(password).map_err(|e| e.message)?;
            }
            Ok::<_, String>(AccountChange { name: Some(name), role: Some(role.get_untracked()), password })
        })();
        let change = match change {
            Ok(change) => change,
            Err(why) => return saving.set(Saving::Failed(why)),
        };
        saving.set(Saving::Busy);
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::change_account(&id.get_value(), &change).await) {
                Ok(changed) => {
                    let signed_out = if change.password.is_some() { " New password set: they were signed out everywhere." } else { "" };
                    notice.set(Some(format!("{} saved.{signed_out}", changed.name)));
                    replace(Some(changed));
                }
                Err(why) => saving.set(Saving::Failed(why)),
            }
        });
    };
    let remove = move |_| {
        saving.set(Saving::Busy);
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::remove_account(&id.get_value()).await) {
                Ok(removed) => {
                    notice.set(Some(format!("{} removed: signed out everywhere, their open conversations handed on.", removed.name)));
                    replace(None);
                }
                Err(why) => saving.set(Saving::Failed(why)),
            }
        });
    };
    let mine = account.id == desk.my_id();
    let form_id = panel_id.clone();
    let field = move |what: &str| format!("{panel_id}-{what}");
    view! {
        <form id=form_id class="account-panel" novalidate on:submit=save on:input=move |_| saving.set(Saving::Idle)>
            <div class="field">
                <label for=field("name")>"Name"</label>
                <input id=field("name") data-testid="account-name" autocomplete="off"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            </div>
            <RoleField id=field("role") testid="account-role" role=role/>
            <div class="field">
                <label for=field("password")>"New password"</label>
                <input id=field("password") type="password" data-testid="account-password" autocomplete="new-password"
                    aria-describedby=field("password-hint")
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                <p class="hint" id=field("password-hint")>"Leave empty to keep it. A new one signs them out everywhere."</p>
            </div>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="account-save" disabled=move || saving.get() == Saving::Busy>
                    "Save"
                </button>
                {(!mine).then(|| view! {
                    <Show
                        when=move || confirming.get()
                        fallback=move || view! {
                            <button type="button" class="danger" data-testid="account-remove" on:click=move |_| confirming.set(true)>
                                "Remove account"
                            </button>
                        }
                    >
                        <p role="alert">"Remove this account? They are signed out everywhere and their open conversations are handed on."</p>
                        <button type="button" class="danger" data-testid="account-remove-confirm" on:click=remove>"Yes, remove"</button>
                        <button type="button" class="quiet" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </Show>
                })}
                {saving_line(saving, "account-saved", "Saved")}
            </div>
        </form>
    }
}
