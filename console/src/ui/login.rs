//! Sign in with email and password. The relay answers with the session cookie, which no
//! script can read; the console only learns who signed in.

use crate::api;
use crate::state::session::Session;
use leptos::prelude::*;
use protocol::inbox::Login;
use protocol::Email;

#[component]
pub fn LoginScreen(session: Session) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let login = match (Email::parse(&email.get_untracked()), password.get_untracked()) {
            _ if email.with_untracked(|e| e.trim().is_empty()) => Err("Enter your email address."),
            (Err(_), _) => Err("That does not look like an email address."),
            (_, p) if p.is_empty() => Err("Enter your password."),
            (Ok(email), password) => Ok(Login { email, password, bearer: false }),
        };
        let login = match login {
            Ok(login) => login,
            Err(why) => return error.set(Some(why.into())),
        };
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            match api::login(&login).await {
                Ok(signed_in) => session.signed_in(signed_in),
                Err(err) => {
                    error.set(Some(err.message));
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <main class="login">
            <form class="login-card" novalidate on:submit=submit>
                <h1 class="login-title">"Chat"</h1>
                <p class="muted">"Sign in to answer your visitors."</p>
                <label for="login-email">"Email"</label>
                <input
                    id="login-email"
                    type="email"
                    autocomplete="username"
                    data-testid="login-email"
                    prop:value=move || email.get()
                    on:input=move |ev| email.set(event_target_value(&ev))
                />
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    type="password"
                    autocomplete="current-password"
                    data-testid="login-password"
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                {move || error.get().map(|why| view! { <p class="form-error" role="alert" data-testid="login-error">{why}</p> })}
                <button type="submit" class="primary" data-testid="login-submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
