//! The team: every account, and a form to add one.

use super::{saving_line, Saving};
use crate::api;
use crate::state::desk::Desk;
use leptos::prelude::*;
use protocol::inbox::{validate_password, NewAccount, MIN_PASSWORD_CHARS};
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

    let online = move |account: &Account| desk.agents.with(|agents| agents.iter().any(|a| a.id == account.id && a.online));
    let list = move || match accounts.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(why)) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
        Some(Ok(accounts)) => view! {
            <ul class="agents" data-testid="agents-list">
                {accounts
                    .into_iter()
                    .map(|account| {
                        let is_online = online(&account);
                        view! {
                            <li class="agent">
                                <span class="agent-name">{account.name.to_string()}</span>
                                <span class="muted">{account.email.to_string()}</span>
                                <span class="status-pill">{role_label(account.role)}</span>
                                {is_online.then(|| view! { <span class="online-pill">"Online"</span> })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any(),
    };

    view! {
        <section class="settings-section" aria-labelledby="agents-title">
            <h2 id="agents-title">"Agents"</h2>
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
                <div class="field">
                    <label for="agent-role">"Role"</label>
                    <select id="agent-role" data-testid="agent-role" on:change=move |ev| {
                        role.set(if event_target_value(&ev) == "admin" { AccountRole::Admin } else { AccountRole::Agent });
                    }>
                        <option value="agent" prop:selected=move || role.get() == AccountRole::Agent>"Agent"</option>
                        <option value="admin" prop:selected=move || role.get() == AccountRole::Admin>"Admin"</option>
                    </select>
                </div>
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
