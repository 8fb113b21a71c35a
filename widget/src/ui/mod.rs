//! The widget's components, one concern per file.

mod app;
mod composer;
mod email_form;
mod launcher;
mod messages;
mod notices;
mod quick_replies;

pub use app::App;
