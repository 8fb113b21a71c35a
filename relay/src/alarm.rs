//! One alarm per object, kept at the earliest due time. The object is the only one that sets
//! its alarm, so it remembers the time instead of asking storage on every message: the hot
//! paths (a conversation's auto-close, the site's time limits on every inbox update) then
//! cost no storage round trip unless the alarm must move earlier.

use std::cell::Cell;
use worker::{js_sys, Result, ScheduledTime, Storage};

#[derive(Default)]
pub struct Alarm {
    /// `None`: not known yet (a fresh or woken object); `Some(None)`: no alarm set.
    at: Cell<Option<Option<u64>>>,
}

impl Alarm {
    /// Makes sure the alarm fires by `due` (epoch ms): set only when none is earlier.
    pub async fn arm(&self, storage: &Storage, due: u64) -> Result<()> {
        let current = match self.at.get() {
            Some(known) => known,
            None => storage.get_alarm().await?.map(|at| at as u64),
        };
        if current.is_some_and(|current| current <= due) {
            self.at.set(Some(current));
            return Ok(());
        }
        // An absolute time: a plain integer would be read as an offset from now.
        storage.set_alarm(ScheduledTime::new(js_sys::Date::new(&(due as f64).into()))).await?;
        self.at.set(Some(Some(due)));
        Ok(())
    }

    /// The alarm fired: none is set until the handler arms the next.
    pub fn fired(&self) {
        self.at.set(Some(None));
    }
}
