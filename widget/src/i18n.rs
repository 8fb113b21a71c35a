//! The widget's words. English is built in. Every other language is a JSON bundle
//! (`widget/locales/{lang}.json`, served at `/widget/locales/`) that the loader fetches
//! alongside the wasm when the visitor's language has one (the embed tag's `data-lang`, else
//! `navigator.language`; the first subtag decides), so nobody downloads the words of
//! languages they do not read, and a new language adds nothing to the wasm. A new language
//! is its bundle in `widget/locales/` (and in the tests' list below, which holds it to
//! English's words); `scripts/build` tells the loader which languages have one, and each
//! one's launcher label, which it shows before the widget loads.

use wasm_bindgen::JsValue;

/// Declares the words from one list of their names and English.
macro_rules! words {
    ($($(#[$doc:meta])* $word:ident = $english:literal,)*) => {
        /// Each word's place in [`Strings`]'s list.
        #[allow(non_camel_case_types)]
        enum Word { $($word,)* }

        /// The words' names, as a bundle's JSON keys them.
        const NAMES: &[&str] = &[$(stringify!($word),)*];

        pub static EN: Strings = Strings { lang: "en", rtl: false, words: [$($english,)*] };

        impl Strings {
            $($(#[$doc])* pub fn $word(&self) -> &'static str { self.words[Word::$word as usize] })*
        }
    };
}

/// Every string the widget shows or announces. `{}`-style holes are filled by the caller with
/// `str::replace` on the named placeholder (e.g. `{name}`, `{n}`).
pub struct Strings {
    /// BCP 47 tag, e.g. "en".
    pub lang: &'static str,
    /// Right-to-left script.
    pub rtl: bool,
    words: [&'static str; NAMES.len()],
}

impl Strings {
    /// A bundle the loader fetched (a parsed JSON object), read once per page and kept as long
    /// as the widget is. A word it lacks stays English.
    pub fn from_bundle(bundle: &JsValue) -> Strings {
        let get = |name: &str| js_sys::Reflect::get(bundle, &JsValue::from_str(name)).ok();
        let text = |name: &str| get(name).and_then(|w| w.as_string()).map(|w| &*Box::leak(w.into_boxed_str()));
        let mut words = EN.words;
        for (word, name) in words.iter_mut().zip(NAMES) {
            if let Some(text) = text(name) {
                *word = text;
            }
        }
        Strings { lang: text("lang").unwrap_or(EN.lang), rtl: get("rtl").and_then(|r| r.as_bool()).unwrap_or(false), words }
    }

    /// Why a message was not sent, from the relay's refusal (`None`: not reached).
    pub fn failure(&self, code: Option<protocol::ErrorCode>) -> &'static str {
        use protocol::ErrorCode::{ConversationClosed, RateLimited};
        match code {
            None => self.failed_offline(),
            Some(ConversationClosed) => self.failed_closed(),
            Some(RateLimited) => self.failed_too_fast(),
            Some(_) => self.failed_refused(),
        }
    }

    /// Every word as (name, text), `lang` first.
    #[cfg(test)]
    fn words(&self) -> Vec<(&'static str, &'static str)> {
        std::iter::once(("lang", self.lang)).chain(NAMES.iter().copied().zip(self.words)).collect()
    }
}

words! {
    open_chat = "Open chat",
    close_chat = "Close chat",
    /// Launcher label with unread messages.
    open_chat_unread = "Open chat, {n} unread",
    messages_label = "Messages",
    message_field = "Message",
    placeholder = "Write a message…",
    send = "Send",
    you = "You",
    sending = "Sending…",
    sent = "Sent",
    seen = "Seen",
    not_sent = "Not sent",
    /// Why a message was not sent: the relay could not be reached (or answered nonsense).
    failed_offline = "the chat could not be reached",
    failed_closed = "this chat has ended",
    failed_too_fast = "too many messages, wait a moment",
    /// Any other refusal.
    failed_refused = "the chat refused it",
    retry = "Retry",
    connecting = "Connecting…",
    reconnecting = "Reconnecting…",
    typing = "{name} is typing…",
    agents_online = "We are online",
    reply_time = "Typically replies in {n} minutes",
    /// The reply time when it is one minute.
    reply_time_one = "Typically replies in a minute",
    /// Nobody online, async on: the answer will come by email.
    away_async = "We are away right now. Leave a message and we will answer by email.",
    email_prompt_prechat = "Before we start, where can we reach you?",
    email_prompt_inchat = "Nobody is online right now. Leave your email and we will answer there.",
    email_label = "Email",
    name_label = "Name (optional)",
    start_chat = "Start chat",
    save = "Save",
    skip = "Not now",
    invalid_email = "Please enter a valid email address.",
    reply_to_email = "We will reply to {email}.",
    change_email = "Change",
    chat_ended = "This chat has ended.",
    write_to_start_new = "Write a message to start a new conversation.",
    blocked = "You can no longer send messages in this chat.",
    earlier_conversation = "Earlier conversation",
    read_article = "Read article",
    back = "Back",
    suggested_replies = "Suggested replies",
    quick_replies = "Quick replies",
    /// Title prefix while there are unread messages.
    title_hint = "({n}) New message",
    /// Announced to screen readers for an incoming message.
    announce_message = "{name}: {text}",
    /// An email link that no longer opens its conversation.
    link_expired = "This link has expired or is not valid. Write a message to start a new conversation.",
    delete_conversation = "Delete conversation",
    confirm_delete = "Delete it for good?",
    cancel = "Cancel",
    deleted = "Your conversation and email were deleted.",
    /// After a message its author changed.
    edited = "edited",
    /// In place of a message its author took back.
    message_deleted = "Message deleted",
    /// Shown while the visitor reads back and new messages arrive below; takes them there.
    new_messages = "New messages",
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The bundles the build serves at `/widget/locales/`.
    const BUNDLES: [(&str, &str); 4] = [
        ("de", include_str!("../locales/de.json")),
        ("fr", include_str!("../locales/fr.json")),
        ("es", include_str!("../locales/es.json")),
        ("ar", include_str!("../locales/ar.json")),
    ];

    /// The `{name}`-style placeholders in a string, sorted.
    fn placeholders(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else { break };
            found.push(&rest[start..start + len + 1]);
            rest = &rest[start + len + 1..];
        }
        found.sort_unstable();
        found
    }

    #[test]
    fn placeholders_helper_finds_holes() {
        assert_eq!(placeholders("{name}: {text}"), ["{name}", "{text}"]);
        assert_eq!(placeholders("({n}) New message"), ["{n}"]);
        assert!(placeholders("Send").is_empty());
    }

    #[test]
    fn every_bundle_has_every_word_and_keeps_placeholders() {
        let en = EN.words();
        assert!(en.iter().any(|(_, v)| !placeholders(v).is_empty()));
        let mut names: Vec<&str> = en.iter().map(|(name, _)| *name).chain(["rtl"]).collect();
        names.sort_unstable();
        for (lang, json) in BUNDLES {
            let bundle: BTreeMap<String, serde_json::Value> = serde_json::from_str(json).expect(lang);
            // English's words exactly: one missing would show in English, one more is a typo.
            assert_eq!(bundle.keys().map(String::as_str).collect::<Vec<_>>(), names, "{lang}");
            assert_eq!(bundle["lang"], lang);
            assert_eq!(bundle["rtl"], lang == "ar", "{lang}: only Arabic is right-to-left");
            for (name, en_value) in &en {
                let value = bundle[*name].as_str().unwrap_or_else(|| panic!("{lang}.{name} is not text"));
                assert!(!value.trim().is_empty(), "{lang}.{name} is empty");
                assert_eq!(
                    placeholders(value),
                    placeholders(en_value),
                    "{lang}.{name} = {value:?} must have the placeholders of {en_value:?}",
                );
                assert_eq!(value.contains('…'), en_value.contains('…'), "{lang}.{name} = {value:?}: ellipsis as in English");
            }
        }
    }

    /// The loader learns the same folder's languages when it is built (`scripts/build`).
    #[test]
    fn every_bundle_there_is_held_to_english() {
        let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/locales"))
            .unwrap()
            .map(|f| f.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let mut listed: Vec<String> = BUNDLES.iter().map(|(lang, _)| format!("{lang}.json")).collect();
        listed.sort();
        assert_eq!(files, listed);
    }
}
