//! The admins' settings page: the site (widget and routing), canned responses, automations,
//! agents.

mod agents;
mod automations;
mod canned;
mod fields;
mod site;

use crate::state::desk::Desk;
use leptos::prelude::*;

/// Where a save stands, for the line beside the save button.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Saving {
    Idle,
    Busy,
    Saved,
    Failed(String),
}

fn saving_line(state: RwSignal<Saving>, saved_testid: &'static str, done: &'static str) -> impl IntoView {
    move || match state.get() {
        Saving::Idle => ().into_any(),
        Saving::Busy => view! { <p class="muted" role="status">"Saving…"</p> }.into_any(),
        Saving::Saved => view! { <p class="saved" role="status" data-testid=saved_testid>{done}</p> }.into_any(),
        Saving::Failed(why) => view! { <p class="form-error" role="alert">{why}</p> }.into_any(),
    }
}

#[component]
pub fn Settings(desk: Desk) -> impl IntoView {
    if !desk.is_admin() {
        return view! {
            <main class="page">
                <h1>"Settings"</h1>
                <p>"Only admins can change settings."</p>
            </main>
        }
        .into_any();
    }
    view! {
        <main class="page settings">
            <h1>"Settings"</h1>
            <p class="muted">{format!("Site: {}", desk.site())}</p>
            <site::SiteSettings desk=desk/>
            <canned::CannedSettings desk=desk/>
            <automations::AutomationSettings desk=desk/>
            <agents::AgentSettings desk=desk/>
        </main>
    }
    .into_any()
}
