//! The agents' console: sign in, work the inbox of a site live, configure it (admins) and see
//! how it goes. Served by the relay at `/console/`, same origin as its API: the session is an
//! HttpOnly cookie that no script here can read.

mod api;
mod browser;
mod live;
mod socket;
mod state;
mod ui;

use leptos::prelude::*;
use state::session::Session;

fn main() {
    // Debug builds say why they panicked; release builds abort at once (scripts/build).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    // The state's effects and tasks need the executor and an owner before the view exists;
    // both live as long as the page.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let owner = Owner::new();
    owner.with(|| {
        let session = Session::new();
        leptos::mount::mount_to_body(move || view! { <ui::app::App session=session/> });
    });
    std::mem::forget(owner);
}
