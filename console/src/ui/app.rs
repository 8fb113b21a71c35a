//! The frame: the login screen, or the workspace of the chosen site.

use super::alerts::Alerts;
use super::analytics::Analytics;
use super::contact::ContactPanel;
use super::conversation::ConversationView;
use super::header::Header;
use super::lists::Lists;
use super::login::LoginScreen;
use super::settings::Settings;
use crate::live::conversation::Conversation;
use crate::state::desk::{initial_site, Desk, Page};
use crate::state::session::{Auth, Session};
use leptos::prelude::*;
use protocol::inbox::SignedIn;

#[component]
pub fn App(session: Session) -> impl IntoView {
    move || match session.auth.get() {
        Auth::Checking => view! {
            <main class="boot" aria-busy="true">
                <p>"Loading…"</p>
            </main>
        }
        .into_any(),
        Auth::SignedOut => view! { <LoginScreen session=session/> }.into_any(),
        Auth::SignedIn(signed_in) => view! { <Workspace session=session signed_in=signed_in/> }.into_any(),
    }
}

/// Everything for one site; choosing another site builds it anew (and reconnects).
#[component]
fn Workspace(session: Session, signed_in: SignedIn) -> impl IntoView {
    let Some(first) = initial_site(&signed_in.sites) else {
        return view! {
            <main class="boot">
                <p>"This server does not serve any site yet."</p>
                <button type="button" data-testid="logout" on:click=move |_| session.sign_out()>"Log out"</button>
            </main>
        }
        .into_any();
    };
    let site_choice = RwSignal::new(first);
    let signed_in = StoredValue::new(signed_in);
    (move || {
        let desk = Desk::new(session, signed_in.get_value(), site_choice.get(), site_choice);
        view! { <DeskView desk=desk/> }
    })
    .into_any()
}

#[component]
fn DeskView(desk: Desk) -> impl IntoView {
    let page = Memo::new(move |_| desk.page.get());
    let body = move || match page.get() {
        Page::Inbox => view! {
            <div class="inbox">
                <Lists desk=desk/>
                <Open desk=desk/>
            </div>
        }
        .into_any(),
        Page::Settings => view! { <Settings desk=desk/> }.into_any(),
        Page::Analytics => view! { <Analytics desk=desk/> }.into_any(),
    };
    view! {
        <div class="app">
            <Header desk=desk/>
            {move || desk.problem.get().map(|problem| view! {
                <p class="banner" role="alert">
                    {problem} " "
                    <button type="button" class="link" on:click=move |_| desk.problem.set(None)>"Dismiss"</button>
                </p>
            })}
            <Alerts desk=desk/>
            {body}
        </div>
    }
}

/// The open conversation and its contact, or a hint when none is open.
#[component]
fn Open(desk: Desk) -> impl IntoView {
    let open = Memo::new(move |_| desk.open.get());
    move || match open.get() {
        Some(id) => {
            let conversation = Conversation::open(desk, id);
            view! {
                <ConversationView conversation=conversation/>
                <ContactPanel conversation=conversation/>
            }
            .into_any()
        }
        None => view! {
            <main class="conversation conversation-empty">
                <h1 class="sr-only">"Inbox"</h1>
                <p>"Choose a conversation from the list."</p>
            </main>
        }
        .into_any(),
    }
}
