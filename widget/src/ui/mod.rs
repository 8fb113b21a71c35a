//! The widget's components, one concern per file.

mod app;
mod composer;
mod messages;

pub use app::App;
