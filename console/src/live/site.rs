//! The agent's connection to the site: presence, the live inbox, the team, alerts.

use super::link::{self, Endpoint};
use crate::api;
use crate::browser;
use crate::state::desk::Desk;
use leptos::prelude::*;
use protocol::http::agent_site_connect_path;
use protocol::{ClientFrame, ServerFrame};

impl Endpoint for Desk {
    fn url(&self) -> String {
        browser::socket_url(&agent_site_connect_path(&self.site()))
    }

    /// (Re)connected: say the presence the agent chose meanwhile, and load the whole inbox in
    /// case changes were missed while away.
    fn opened(&self) {
        self.connected.set(true);
        if let Some(online) = self.chosen_presence.get_value() {
            link::send(self.link, &ClientFrame::SetStatus { online });
        }
        self.load_inbox();
    }

    fn frame(&self, frame: ServerFrame) {
        match frame {
            ServerFrame::Agents { agents } => {
                let me = self.my_id();
                if let Some(own) = agents.iter().find(|a| a.id == me) {
                    // Until the relay confirms the agent's choice, the choice shows.
                    let chosen = self.chosen_presence.get_value();
                    if chosen.is_none_or(|chosen| chosen == own.online) {
                        self.chosen_presence.set_value(None);
                        self.online.set(own.online);
                    }
                }
                self.agents.set(agents);
            }
            ServerFrame::Inbox { entry } => self.inbox.update(|i| i.upsert(entry)),
            ServerFrame::Alert { conversation_id, alert } => self.raise(conversation_id, alert),
            // An admin saved them: every console works with the new ones at once.
            ServerFrame::CannedChanged => self.load_canned(),
            ServerFrame::InboxSettings { settings } => self.unanswered_minutes.set(Some(settings.unanswered_alert_minutes)),
            ServerFrame::Error { message, .. } => {
                // A refused presence change: show what the relay says, not the choice.
                self.chosen_presence.set_value(None);
                self.problem.set(Some(crate::state::words::sentence(&message)));
            }
            _ => {}
        }
    }

    /// Dropped: a refused session shows the login screen; anything else is retried.
    fn lost(&self) {
        self.connected.set(false);
        let session = self.session;
        leptos::task::spawn_local(async move {
            let _ = session.settle(api::me().await);
        });
    }
}

impl Desk {
    /// The Online/Offline toggle. Shown at once; sent now, or as soon as connected; the
    /// relay's next `agents` frame confirms it.
    pub fn set_online(&self, online: bool) {
        self.chosen_presence.set_value(Some(online));
        self.online.set(online);
        link::send(self.link, &ClientFrame::SetStatus { online });
    }
}
