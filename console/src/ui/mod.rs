//! What the agent sees. Text is always a text node, never HTML; links come from `SafeUrl`s
//! only, and open in a new tab without access to the console.

mod actions;
mod alerts;
mod analytics;
pub mod app;
mod attach;
mod canned_menu;
mod composer;
mod contact;
mod conversation;
mod header;
mod lists;
mod login;
mod outbound;
mod settings;
mod thread;
