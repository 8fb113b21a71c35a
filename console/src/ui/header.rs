//! The top bar: product, site, presence, pages, who is signed in.

use crate::browser::{self, NotificationAccess};
use crate::state::desk::{Desk, Page};
use leptos::prelude::*;
use protocol::{AccountRole, SiteId};

#[component]
pub fn Header(desk: Desk) -> impl IntoView {
    let me = desk.me();
    let role = match me.role {
        AccountRole::Admin => "Admin",
        AccountRole::Agent => "Agent",
    };
    let sites = desk.sites();
    let site_picker = (sites.len() > 1).then(|| {
        let current = desk.site();
        view! {
            <label class="sr-only" for="site-picker">"Site"</label>
            <select
                id="site-picker"
                class="site-picker"
                data-testid="site-picker"
                on:change=move |ev| {
                    if let Ok(site) = SiteId::parse(&event_target_value(&ev)) {
                        desk.site_choice.set(site);
                    }
                }
            >
                {sites
                    .into_iter()
                    .map(|site| {
                        let selected = site == current;
                        view! { <option value=site.to_string() selected=selected>{site.to_string()}</option> }
                    })
                    .collect_view()}
            </select>
        }
    });
    let nav_button = move |target: Page, label: &'static str, testid: &'static str| {
        view! {
            <button
                type="button"
                class="nav-link"
                data-testid=testid
                aria-current=move || (desk.page.get() == target).then_some("page")
                on:click=move |_| desk.page.set(target)
            >
                {label}
            </button>
        }
    };
    let online = desk.online;
    let connected = desk.connected;

    view! {
        <header class="topbar">
            <span class="brand">"Chat"</span>
            {site_picker}
            <button
                type="button"
                class="presence"
                data-testid="presence-toggle"
                aria-pressed=move || if online.get() { "true" } else { "false" }
                aria-describedby="presence-state"
                on:click=move |_| desk.set_online(!online.get_untracked())
            >
                <span class="presence-dot" aria-hidden="true"></span>
                "Online"
            </button>
            <span id="presence-state" class="presence-state">
                {move || match (connected.get(), online.get()) {
                    (false, _) => "Connecting…",
                    (true, true) => "You are online",
                    (true, false) => "You are offline",
                }}
            </span>
            <nav class="pages" aria-label="Pages">
                {nav_button(Page::Inbox, "Inbox", "nav-inbox")}
                {desk.is_admin().then(|| nav_button(Page::Settings, "Settings", "nav-settings"))}
                {nav_button(Page::Analytics, "Analytics", "nav-analytics")}
            </nav>
            <NotificationsButton/>
            <span class="who">
                <span class="who-name">{me.name.to_string()}</span>
                <span class="who-role">{role}</span>
            </span>
            <button type="button" class="quiet" data-testid="logout" on:click=move |_| desk.session.sign_out()>
                "Log out"
            </button>
        </header>
    }
}

/// Asks for system notifications, only when the agent clicks (never by itself).
#[component]
fn NotificationsButton() -> impl IntoView {
    let access = RwSignal::new(browser::notification_access());
    move || {
        (access.get() == NotificationAccess::NotAsked).then(|| {
            view! {
                <button
                    type="button"
                    class="quiet"
                    on:click=move |_| browser::ask_notification_access(move |now| access.set(now))
                >
                    "Enable notifications"
                </button>
            }
        })
    }
}
