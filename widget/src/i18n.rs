//! The widget's words, per language. The language comes from the embed tag's `data-lang`,
//! else the browser's `navigator.language`; unknown languages get English.

/// Every string the widget shows or announces. `{}`-style holes are filled by the caller with
/// `str::replace` on the named placeholder (e.g. `{name}`, `{n}`).
pub struct Strings {
    /// BCP 47 tag, e.g. "en".
    pub lang: &'static str,
    /// Right-to-left script.
    pub rtl: bool,
    pub open_chat: &'static str,
    pub close_chat: &'static str,
    /// Launcher label with unread messages: "{n}" is the count.
    pub open_chat_unread: &'static str,
    pub messages_label: &'static str,
    pub message_field: &'static str,
    pub placeholder: &'static str,
    pub send: &'static str,
    pub you: &'static str,
    pub sending: &'static str,
    pub sent: &'static str,
    pub seen: &'static str,
    pub not_sent: &'static str,
    pub retry: &'static str,
    pub connecting: &'static str,
    pub reconnecting: &'static str,
    /// "{name} is typing…"
    pub typing: &'static str,
    pub agents_online: &'static str,
    /// "Typically replies in {n} minutes"
    pub reply_time: &'static str,
    /// Nobody online, async on: the answer will come by email.
    pub away_async: &'static str,
    pub email_prompt_prechat: &'static str,
    pub email_prompt_inchat: &'static str,
    pub email_label: &'static str,
    pub name_label: &'static str,
    pub start_chat: &'static str,
    pub save: &'static str,
    pub skip: &'static str,
    pub invalid_email: &'static str,
    /// "We will reply to {email}."
    pub reply_to_email: &'static str,
    pub change_email: &'static str,
    pub chat_ended: &'static str,
    pub write_to_start_new: &'static str,
    pub blocked: &'static str,
    pub earlier_conversation: &'static str,
    pub read_article: &'static str,
    pub back: &'static str,
    pub suggested_replies: &'static str,
    pub quick_replies: &'static str,
    /// Title prefix while there are unread messages: "({n}) New message"
    pub title_hint: &'static str,
    /// Announced to screen readers for an incoming message: "{name}: {text}"
    pub announce_message: &'static str,
    /// An email link that no longer opens its conversation.
    pub link_expired: &'static str,
    pub delete_conversation: &'static str,
    pub confirm_delete: &'static str,
    pub cancel: &'static str,
    pub deleted: &'static str,
    /// After a message its author changed.
    pub edited: &'static str,
    /// In place of a message its author took back.
    pub message_deleted: &'static str,
    /// Shown while the visitor reads back and new messages arrive below; takes them there.
    pub new_messages: &'static str,
}

pub static EN: Strings = Strings {
    lang: "en",
    rtl: false,
    open_chat: "Open chat",
    close_chat: "Close chat",
    open_chat_unread: "Open chat, {n} unread",
    messages_label: "Messages",
    message_field: "Message",
    placeholder: "Write a message…",
    send: "Send",
    you: "You",
    sending: "Sending…",
    sent: "Sent",
    seen: "Seen",
    not_sent: "Not sent",
    retry: "Retry",
    connecting: "Connecting…",
    reconnecting: "Reconnecting…",
    typing: "{name} is typing…",
    agents_online: "We are online",
    reply_time: "Typically replies in {n} minutes",
    away_async: "We are away right now. Leave a message and we will answer by email.",
    email_prompt_prechat: "Before we start, where can we reach you?",
    email_prompt_inchat: "Nobody is online right now. Leave your email and we will answer there.",
    email_label: "Email",
    name_label: "Name (optional)",
    start_chat: "Start chat",
    save: "Save",
    skip: "Not now",
    invalid_email: "Please enter a valid email address.",
    reply_to_email: "We will reply to {email}.",
    change_email: "Change",
    chat_ended: "This chat has ended.",
    write_to_start_new: "Write a message to start a new conversation.",
    blocked: "You can no longer send messages in this chat.",
    earlier_conversation: "Earlier conversation",
    read_article: "Read article",
    back: "Back",
    suggested_replies: "Suggested replies",
    quick_replies: "Quick replies",
    title_hint: "({n}) New message",
    announce_message: "{name}: {text}",
    link_expired: "This link has expired or is not valid. Write a message to start a new conversation.",
    delete_conversation: "Delete conversation",
    confirm_delete: "Delete it for good?",
    edited: "edited",
    message_deleted: "Message deleted",
    new_messages: "New messages",
    cancel: "Cancel",
    deleted: "Your conversation and email were deleted.",
};

pub static DE: Strings = Strings {
    lang: "de",
    rtl: false,
    open_chat: "Chat öffnen",
    close_chat: "Chat schließen",
    open_chat_unread: "Chat öffnen, {n} ungelesen",
    messages_label: "Nachrichten",
    message_field: "Nachricht",
    placeholder: "Nachricht schreiben…",
    send: "Senden",
    you: "Du",
    sending: "Wird gesendet…",
    sent: "Gesendet",
    seen: "Gelesen",
    not_sent: "Nicht gesendet",
    retry: "Erneut versuchen",
    connecting: "Verbindung wird hergestellt…",
    reconnecting: "Verbindung wird wiederhergestellt…",
    typing: "{name} schreibt…",
    agents_online: "Wir sind online",
    reply_time: "Antwortet meist innerhalb von {n} Minuten",
    away_async: "Wir sind gerade nicht da. Hinterlass uns eine Nachricht, wir antworten dir per E-Mail.",
    email_prompt_prechat: "Bevor es losgeht: Wie können wir dich erreichen?",
    email_prompt_inchat: "Gerade ist niemand online. Hinterlass deine E-Mail-Adresse, dann antworten wir dir dort.",
    email_label: "E-Mail",
    name_label: "Name (optional)",
    start_chat: "Chat starten",
    save: "Speichern",
    skip: "Nicht jetzt",
    invalid_email: "Bitte gib eine gültige E-Mail-Adresse ein.",
    reply_to_email: "Wir antworten dir an {email}.",
    change_email: "Ändern",
    chat_ended: "Dieser Chat wurde beendet.",
    write_to_start_new: "Schreib eine Nachricht, um ein neues Gespräch zu beginnen.",
    blocked: "Du kannst in diesem Chat keine Nachrichten mehr senden.",
    earlier_conversation: "Früheres Gespräch",
    read_article: "Artikel lesen",
    back: "Zurück",
    suggested_replies: "Antwortvorschläge",
    quick_replies: "Schnellantworten",
    title_hint: "({n}) Neue Nachricht",
    announce_message: "{name}: {text}",
    link_expired: "Dieser Link ist abgelaufen oder ungültig. Schreib eine Nachricht, um ein neues Gespräch zu beginnen.",
    delete_conversation: "Gespräch löschen",
    confirm_delete: "Endgültig löschen?",
    edited: "bearbeitet",
    message_deleted: "Nachricht gelöscht",
    new_messages: "Neue Nachrichten",
    cancel: "Abbrechen",
    deleted: "Dein Gespräch und deine E-Mail-Adresse wurden gelöscht.",
};

// French typography: a no-break space (U+00A0) goes before `:` and `?`.
pub static FR: Strings = Strings {
    lang: "fr",
    rtl: false,
    open_chat: "Ouvrir le chat",
    close_chat: "Fermer le chat",
    open_chat_unread: "Ouvrir le chat, messages non lus\u{a0}: {n}",
    messages_label: "Messages",
    message_field: "Message",
    placeholder: "Écrivez un message…",
    send: "Envoyer",
    you: "Vous",
    sending: "Envoi en cours…",
    sent: "Envoyé",
    seen: "Lu",
    not_sent: "Non envoyé",
    retry: "Réessayer",
    connecting: "Connexion…",
    reconnecting: "Reconnexion…",
    typing: "{name} écrit…",
    agents_online: "Nous sommes en ligne",
    reply_time: "Répond généralement en {n} minutes",
    away_async: "Nous sommes absents pour le moment. Laissez-nous un message et nous vous répondrons par e-mail.",
    email_prompt_prechat: "Avant de commencer, où pouvons-nous vous joindre\u{a0}?",
    email_prompt_inchat: "Personne n’est en ligne pour le moment. Laissez votre adresse e-mail et nous vous y répondrons.",
    email_label: "E-mail",
    name_label: "Nom (facultatif)",
    start_chat: "Démarrer le chat",
    save: "Enregistrer",
    skip: "Plus tard",
    invalid_email: "Veuillez saisir une adresse e-mail valide.",
    reply_to_email: "Nous vous répondrons à {email}.",
    change_email: "Modifier",
    chat_ended: "Cette conversation est terminée.",
    write_to_start_new: "Écrivez un message pour démarrer une nouvelle conversation.",
    blocked: "Vous ne pouvez plus envoyer de messages dans cette conversation.",
    earlier_conversation: "Conversation précédente",
    read_article: "Lire l’article",
    back: "Retour",
    suggested_replies: "Réponses suggérées",
    quick_replies: "Réponses rapides",
    title_hint: "({n}) Nouveau message",
    announce_message: "{name}\u{a0}: {text}",
    link_expired: "Ce lien a expiré ou n’est pas valide. Écrivez un message pour commencer une nouvelle conversation.",
    delete_conversation: "Supprimer la conversation",
    confirm_delete: "La supprimer définitivement\u{a0}?",
    edited: "modifié",
    message_deleted: "Message supprimé",
    new_messages: "Nouveaux messages",
    cancel: "Annuler",
    deleted: "Votre conversation et votre adresse e-mail ont été supprimées.",
};

pub static ES: Strings = Strings {
    lang: "es",
    rtl: false,
    open_chat: "Abrir chat",
    close_chat: "Cerrar chat",
    open_chat_unread: "Abrir chat, {n} sin leer",
    messages_label: "Mensajes",
    message_field: "Mensaje",
    placeholder: "Escribe un mensaje…",
    send: "Enviar",
    you: "Tú",
    sending: "Enviando…",
    sent: "Enviado",
    seen: "Visto",
    not_sent: "No enviado",
    retry: "Reintentar",
    connecting: "Conectando…",
    reconnecting: "Reconectando…",
    typing: "{name} está escribiendo…",
    agents_online: "Estamos en línea",
    reply_time: "Suele responder en {n} minutos",
    away_async: "Ahora no estamos disponibles. Déjanos un mensaje y te responderemos por correo electrónico.",
    email_prompt_prechat: "Antes de empezar, ¿dónde podemos contactarte?",
    email_prompt_inchat: "Ahora mismo no hay nadie en línea. Déjanos tu correo electrónico y te responderemos allí.",
    email_label: "Correo electrónico",
    name_label: "Nombre (opcional)",
    start_chat: "Iniciar chat",
    save: "Guardar",
    skip: "Ahora no",
    invalid_email: "Escribe una dirección de correo electrónico válida.",
    reply_to_email: "Te responderemos en {email}.",
    change_email: "Cambiar",
    chat_ended: "Este chat ha finalizado.",
    write_to_start_new: "Escribe un mensaje para iniciar una nueva conversación.",
    blocked: "Ya no puedes enviar mensajes en este chat.",
    earlier_conversation: "Conversación anterior",
    read_article: "Leer artículo",
    back: "Volver",
    suggested_replies: "Respuestas sugeridas",
    quick_replies: "Respuestas rápidas",
    title_hint: "({n}) Nuevo mensaje",
    announce_message: "{name}: {text}",
    link_expired: "Este enlace ha caducado o no es válido. Escribe un mensaje para empezar una nueva conversación.",
    delete_conversation: "Eliminar conversación",
    confirm_delete: "¿Eliminarla definitivamente?",
    edited: "editado",
    message_deleted: "Mensaje eliminado",
    new_messages: "Mensajes nuevos",
    cancel: "Cancelar",
    deleted: "Tu conversación y tu correo se han eliminado.",
};

// Counts are put after a colon ("…: {n}") where a noun would otherwise have to agree with the
// number, which Arabic inflects in several ways.
pub static AR: Strings = Strings {
    lang: "ar",
    rtl: true,
    open_chat: "فتح المحادثة",
    close_chat: "إغلاق المحادثة",
    open_chat_unread: "فتح المحادثة، رسائل غير مقروءة: {n}",
    messages_label: "الرسائل",
    message_field: "الرسالة",
    placeholder: "اكتب رسالة…",
    send: "إرسال",
    you: "أنت",
    sending: "جارٍ الإرسال…",
    sent: "تم الإرسال",
    seen: "تمت القراءة",
    not_sent: "لم يتم الإرسال",
    retry: "إعادة المحاولة",
    connecting: "جارٍ الاتصال…",
    reconnecting: "جارٍ إعادة الاتصال…",
    typing: "{name} يكتب…",
    agents_online: "نحن متصلون الآن",
    reply_time: "مدة الرد المعتادة بالدقائق: {n}",
    away_async: "نحن غير متاحين الآن. اترك رسالة وسنرد عليك عبر البريد الإلكتروني.",
    email_prompt_prechat: "قبل أن نبدأ، كيف يمكننا التواصل معك؟",
    email_prompt_inchat: "لا يوجد أحد متصل الآن. اترك بريدك الإلكتروني وسنرد عليك عبره.",
    email_label: "البريد الإلكتروني",
    name_label: "الاسم (اختياري)",
    start_chat: "بدء المحادثة",
    save: "حفظ",
    skip: "ليس الآن",
    invalid_email: "يُرجى إدخال عنوان بريد إلكتروني صالح.",
    reply_to_email: "سنرد عليك على {email}.",
    change_email: "تغيير",
    chat_ended: "انتهت هذه المحادثة.",
    write_to_start_new: "اكتب رسالة لبدء محادثة جديدة.",
    blocked: "لم يعد بإمكانك إرسال رسائل في هذه المحادثة.",
    earlier_conversation: "محادثة سابقة",
    read_article: "قراءة المقال",
    back: "رجوع",
    suggested_replies: "ردود مقترحة",
    quick_replies: "ردود سريعة",
    title_hint: "({n}) رسالة جديدة",
    announce_message: "{name}: {text}",
    link_expired: "انتهت صلاحية هذا الرابط أو أنه غير صالح. اكتب رسالة لبدء محادثة جديدة.",
    delete_conversation: "حذف المحادثة",
    confirm_delete: "هل تريد حذفها نهائيًا؟",
    edited: "معدّلة",
    message_deleted: "تم حذف الرسالة",
    new_messages: "رسائل جديدة",
    cancel: "إلغاء",
    deleted: "تم حذف محادثتك وبريدك الإلكتروني.",
};

/// The bundle for a language tag like "de-AT": the first subtag decides.
pub fn strings_for(tag: &str) -> &'static Strings {
    let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
    ALL.iter().copied().find(|s| s.lang == primary).unwrap_or(&EN)
}

pub static ALL: &[&Strings] = &[&EN, &DE, &FR, &ES, &AR];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_primary_subtag_and_falls_back_to_english() {
        assert_eq!(strings_for("en-GB").lang, "en");
        assert_eq!(strings_for("xx").lang, "en");
        assert_eq!(strings_for("").lang, "en");
    }

    #[test]
    fn picks_each_bundle_by_region_tag() {
        assert_eq!(strings_for("de-AT").lang, "de");
        assert_eq!(strings_for("fr-CA").lang, "fr");
        assert_eq!(strings_for("es-419").lang, "es");
        assert_eq!(strings_for("ar").lang, "ar");
        assert!(strings_for("ar").rtl);
        assert!(!strings_for("de-AT").rtl);
    }

    /// Every string field of a bundle as (field name, value). The pattern names every field and
    /// has no `..`, so adding a field to `Strings` fails to compile until it is listed here.
    macro_rules! string_fields {
        ($s:expr; $($f:ident),* $(,)?) => {{
            let Strings { rtl: _, $($f),* } = $s;
            vec![$((stringify!($f), *$f)),*]
        }};
    }

    fn fields(s: &Strings) -> Vec<(&'static str, &'static str)> {
        string_fields!(s;
            lang, open_chat, close_chat, open_chat_unread, messages_label, message_field,
            placeholder, send, you, sending, sent, seen, not_sent, retry, connecting,
            reconnecting, typing, agents_online, reply_time, away_async, email_prompt_prechat,
            email_prompt_inchat, email_label, name_label, start_chat, save, skip, invalid_email,
            reply_to_email, change_email, chat_ended, write_to_start_new, blocked,
            earlier_conversation, read_article, back, suggested_replies, quick_replies,
            title_hint, announce_message, link_expired, delete_conversation, confirm_delete, cancel,
            deleted, edited, message_deleted, new_messages,
        )
    }

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
    fn every_bundle_fills_every_field_and_keeps_placeholders() {
        let en = fields(&EN);
        assert!(en.iter().any(|(_, v)| !placeholders(v).is_empty()));
        for bundle in ALL {
            let theirs = fields(bundle);
            assert_eq!(theirs.len(), en.len());
            for ((field, en_value), (their_field, value)) in en.iter().zip(&theirs) {
                assert_eq!(field, their_field);
                assert!(!value.trim().is_empty(), "{}.{field} is empty", bundle.lang);
                assert_eq!(
                    placeholders(value),
                    placeholders(en_value),
                    "{}.{field} = {value:?} must have the placeholders of {en_value:?}",
                    bundle.lang,
                );
                assert_eq!(
                    value.contains('…'),
                    en_value.contains('…'),
                    "{}.{field} = {value:?}: ellipsis as in English",
                    bundle.lang,
                );
            }
        }
    }

    #[test]
    fn bundles_have_distinct_langs_and_only_arabic_is_rtl() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|b| b.lang != a.lang), "duplicate {}", a.lang);
            assert_eq!(a.rtl, a.lang == "ar", "{}", a.lang);
            assert!(std::ptr::eq(strings_for(a.lang), *a));
        }
    }
}
