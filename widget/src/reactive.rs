//! Effects through one closure type. `Effect::new` is generic over its closure, so every effect
//! written out is a copy of the effect's machinery in the wasm (about a kilobyte each); boxed
//! first, they all share one. An effect that compares with its last run keeps what it needs in
//! its own captured state.

use leptos::prelude::Effect;

/// Runs `run` now, and again whenever a signal it read changes, for the widget's lifetime.
pub fn effect(run: impl FnMut() + 'static) {
    let mut run: Box<dyn FnMut()> = Box::new(run);
    Effect::new(move |_| run());
}

