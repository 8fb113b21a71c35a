//! The console's two kinds of live connection: one to the site, one per open conversation.

pub mod conversation;
pub mod link;
pub mod site;
