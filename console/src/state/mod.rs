//! What the console knows, as signals and as plain data the signals hold.

pub mod alerts;
pub mod desk;
pub mod draft;
pub mod inbox;
pub mod outbox;
pub mod session;
pub mod settings_form;
pub mod shortcut;
pub mod thread;
pub mod words;
