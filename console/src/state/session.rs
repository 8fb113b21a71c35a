//! Whether an agent is signed in. Every HTTP answer passes through [`Session::settle`], so an
//! expired session anywhere brings back the login screen.

use crate::api::{self, ApiError};
use crate::browser;
use leptos::prelude::*;
use protocol::inbox::SignedIn;

/// Set while this browser has a session. The cookie itself is out of reach (HttpOnly); a
/// browser that never signed in skips asking the relay, and the refusal it would log.
const SIGNED_IN_KEY: &str = "console-signed-in";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Asking the relay whether the session cookie is still good.
    Checking,
    SignedOut,
    SignedIn(SignedIn),
}

#[derive(Clone, Copy)]
pub struct Session {
    pub auth: RwSignal<Auth>,
}

impl Session {
    /// Starts by asking who is signed in, when this browser may have a session.
    pub fn new() -> Session {
        if browser::load(SIGNED_IN_KEY).is_none() {
            return Session { auth: RwSignal::new(Auth::SignedOut) };
        }
        let session = Session { auth: RwSignal::new(Auth::Checking) };
        leptos::task::spawn_local(async move {
            match api::me().await {
                Ok(signed_in) => session.signed_in(signed_in),
                Err(_) => session.signed_out(),
            }
        });
        session
    }

    pub fn signed_in(&self, signed_in: SignedIn) {
        browser::save(SIGNED_IN_KEY, "1");
        self.auth.set(Auth::SignedIn(signed_in));
    }

    fn signed_out(&self) {
        browser::forget(SIGNED_IN_KEY);
        self.auth.set(Auth::SignedOut);
    }

    /// Passes a result on, in words for the agent; a lost session signs out.
    pub fn settle<T>(&self, result: Result<T, ApiError>) -> Result<T, String> {
        result.map_err(|err| {
            if err.signed_out() {
                self.signed_out();
            }
            err.message
        })
    }

    /// The agent signs out: what they left unsent or half-written here goes too, so the next
    /// person at this computer cannot send it under their own name.
    pub fn sign_out(&self) {
        browser::forget_all(&[super::draft::PREFIX, super::outbox::PREFIX]);
        let session = *self;
        leptos::task::spawn_local(async move {
            // Signed out here whatever the answer: the cookie is the relay's to forget.
            let _ = api::logout().await;
            session.signed_out();
        });
    }
}
