//! The signed-in agent's workspace on one site: the inbox, who is online, alerts, and what
//! is on screen. A `Copy` handle of signals; it lives as long as the site is chosen.

use super::inbox::InboxState;
use super::session::Session;
use crate::api;
use crate::browser;
use crate::live::link::{self, Link};
use leptos::prelude::*;
use protocol::inbox::{AgentPresence, CannedResponses, InboxList, SignedIn};
use protocol::{Account, AccountRole, AgentId, ConversationId, SiteId};
use std::time::Duration;

/// Which screen the agent is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Inbox,
    Settings,
    Analytics,
}

/// One alert on screen until the agent dismisses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toast {
    pub id: u64,
    pub conversation_id: ConversationId,
    pub text: String,
    /// Who the conversation is with, when the inbox knows.
    pub contact: Option<String>,
}

/// Relative times in the lists are refreshed this often.
const CLOCK_TICK: Duration = Duration::from_secs(30);

/// Where the chosen site is remembered between visits.
const SITE_KEY: &str = "console-site";

#[derive(Clone, Copy)]
pub struct Desk {
    pub session: Session,
    signed_in: StoredValue<SignedIn>,
    site: StoredValue<SiteId>,
    /// The site picker's choice; changing it replaces this desk by another site's.
    pub site_choice: RwSignal<SiteId>,
    pub page: RwSignal<Page>,
    pub tab: RwSignal<InboxList>,
    pub inbox: RwSignal<InboxState>,
    pub open: RwSignal<Option<ConversationId>>,
    pub agents: RwSignal<Vec<AgentPresence>>,
    /// The agent's own presence, as the relay last said (offline until it says otherwise),
    /// or as the agent just chose.
    pub online: RwSignal<bool>,
    /// A presence the agent chose that the relay has not confirmed yet: sent as soon as the
    /// connection is up.
    pub(crate) chosen_presence: StoredValue<Option<bool>>,
    /// The site connection is up: presence can be changed and the inbox is live.
    pub connected: RwSignal<bool>,
    pub toasts: RwSignal<Vec<Toast>>,
    /// The latest alert, for screen readers.
    pub announcement: RwSignal<String>,
    pub canned: RwSignal<CannedResponses>,
    /// The site's "unanswered" alert delay, for the alert's wording.
    pub unanswered_minutes: RwSignal<Option<u32>>,
    /// Wall-clock time, ticking, for "5 min ago".
    pub now: RwSignal<f64>,
    pub page_visible: RwSignal<bool>,
    /// Something the agent should know about the inbox itself (it could not load, a refusal).
    pub problem: RwSignal<Option<String>>,
    pub(crate) link: Link,
}

/// The site to start on: the one chosen last time, if this relay still serves it.
pub fn initial_site(sites: &[SiteId]) -> Option<SiteId> {
    let remembered = browser::load(SITE_KEY).and_then(|s| SiteId::parse(&s).ok());
    remembered.filter(|s| sites.contains(s)).or_else(|| sites.first().cloned())
}

impl Desk {
    pub fn new(session: Session, signed_in: SignedIn, site: SiteId, site_choice: RwSignal<SiteId>) -> Desk {
        browser::save(SITE_KEY, site.as_str());
        let desk = Desk {
            session,
            signed_in: StoredValue::new(signed_in),
            site: StoredValue::new(site),
            site_choice,
            page: RwSignal::new(Page::Inbox),
            tab: RwSignal::new(InboxList::Waiting),
            inbox: RwSignal::new(InboxState::default()),
            open: RwSignal::new(None),
            agents: RwSignal::new(Vec::new()),
            online: RwSignal::new(false),
            chosen_presence: StoredValue::new(None),
            connected: RwSignal::new(false),
            toasts: RwSignal::new(Vec::new()),
            announcement: RwSignal::new(String::new()),
            canned: RwSignal::new(CannedResponses::default()),
            unanswered_minutes: RwSignal::new(None),
            now: RwSignal::new(browser::now_ms()),
            page_visible: RwSignal::new(!browser::page_hidden()),
            problem: RwSignal::new(None),
            link: link::new_link(),
        };
        desk.load_inbox();
        desk.load_site_data();
        link::start(desk.link, desk);
        let clock = set_interval_with_handle(move || desk.now.set(browser::now_ms()), CLOCK_TICK).ok();
        let visibility =
            window_event_listener_untyped("visibilitychange", move |_| desk.page_visible.set(!browser::page_hidden()));
        on_cleanup(move || {
            link::stop(desk.link);
            clock.into_iter().for_each(|handle| handle.clear());
            visibility.remove();
        });
        desk
    }

    pub fn me(&self) -> Account {
        self.signed_in.with_value(|s| s.account.clone())
    }

    pub fn my_id(&self) -> AgentId {
        self.signed_in.with_value(|s| s.account.id.clone())
    }

    pub fn is_admin(&self) -> bool {
        self.signed_in.with_value(|s| s.account.role == AccountRole::Admin)
    }

    pub fn sites(&self) -> Vec<SiteId> {
        self.signed_in.with_value(|s| s.sites.clone())
    }

    pub fn site(&self) -> SiteId {
        self.site.get_value()
    }

    /// Shows a conversation, on the tab it belongs to. Also called late (a notification
    /// clicked after the site changed), when this desk may be gone: then it does nothing.
    pub fn open_conversation(&self, id: ConversationId) {
        let Some(me) = self.signed_in.try_with_value(|s| s.account.id.clone()) else { return };
        if let Some(list) = self.inbox.with_untracked(|i| i.get(&id).map(|e| e.list_for(&me))) {
            self.tab.set(list);
        }
        self.page.set(Page::Inbox);
        self.dismiss_for(&id);
        self.open.set(Some(id));
    }

    /// The whole inbox (at start, and on every reconnect in case changes were missed).
    pub fn load_inbox(&self) {
        let number = self.inbox.try_update(InboxState::begin_load).unwrap_or_default();
        let desk = *self;
        let site = self.site();
        leptos::task::spawn_local(async move {
            let loaded = desk.session.settle(api::inbox(&site).await);
            if let Err(why) = &loaded {
                desk.problem.set(Some(format!("The inbox could not be loaded: {why}")));
            }
            desk.inbox.update(|i| i.finish_load(number, loaded.ok()));
        });
    }

    /// The next page of closed conversations, behind those listed. `done` runs when it has
    /// come (or failed), so the button can be used again.
    pub fn load_older_closed(&self, done: impl FnOnce() + 'static) {
        let Some(cursor) = self.inbox.with_untracked(InboxState::closed_cursor) else { return done() };
        let desk = *self;
        let site = self.site();
        leptos::task::spawn_local(async move {
            match desk.session.settle(api::older_closed(&site, &cursor).await) {
                Ok(page) => desk.inbox.update(|i| i.add_older(page)),
                Err(why) => desk.problem.set(Some(format!("Older conversations could not be loaded: {why}"))),
            }
            done();
        });
    }

    /// The site's canned responses (at start, and when an admin has saved them).
    pub fn load_canned(&self) {
        let desk = *self;
        let site = self.site();
        leptos::task::spawn_local(async move {
            if let Ok(canned) = desk.session.settle(api::canned(&site).await) {
                desk.canned.set(canned);
            }
        });
    }

    /// What every agent needs besides the inbox: canned responses, the alert delay.
    fn load_site_data(&self) {
        self.load_canned();
        let desk = *self;
        let site = self.site();
        leptos::task::spawn_local(async move {
            if let Ok(settings) = desk.session.settle(api::inbox_settings(&site).await) {
                desk.unanswered_minutes.set(Some(settings.unanswered_alert_minutes));
            }
        });
    }
}
