//! Visitor tokens: `v1.{site}.{conversation}.{expires}.{signature}`.
//!
//! The signature is HMAC-SHA256 over everything before it, keyed with the relay's
//! `TOKEN_SECRET`. A token opens exactly one conversation of one site until it expires.
//! Only the relay signs; tests use [`sign`] to make expired tokens.

use hmac::{Hmac, Mac};
use crate::{ConversationId, ErrorCode, ProtocolError, SiteId};
use sha2::Sha256;

const PREFIX: &str = "v1";

/// How long a visitor token stays valid: 90 days, in seconds.
pub const TOKEN_LIFETIME_SECS: u64 = 90 * 24 * 60 * 60;

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorGrant {
    pub site: SiteId,
    pub conversation: ConversationId,
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    mac
}

pub fn sign(secret: &[u8], grant: &VisitorGrant, expires_at_secs: u64) -> String {
    let payload = format!("{PREFIX}.{}.{}.{expires_at_secs}", grant.site, grant.conversation);
    let signature = to_hex(&mac(secret, &payload).finalize().into_bytes());
    format!("{payload}.{signature}")
}

pub fn verify(secret: &[u8], token: &str, now_secs: u64) -> Result<VisitorGrant, ProtocolError> {
    let invalid = |why: &str| ProtocolError::new(ErrorCode::InvalidToken, why.to_owned());
    let (payload, signature) = token.rsplit_once('.').ok_or_else(|| invalid("malformed token"))?;
    let signature = from_hex(signature).ok_or_else(|| invalid("malformed token"))?;
    // Constant-time comparison inside verify_slice.
    mac(secret, payload).verify_slice(&signature).map_err(|_| invalid("token signature does not match"))?;
    let mut parts = payload.split('.');
    let (Some(PREFIX), Some(site), Some(conversation), Some(expires), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed token"));
    };
    let expires: u64 = expires.parse().map_err(|_| invalid("malformed token"))?;
    if expires <= now_secs {
        return Err(invalid("token expired"));
    }
    Ok(VisitorGrant {
        site: SiteId::parse(site).map_err(|_| invalid("malformed token"))?,
        conversation: ConversationId::parse(conversation).map_err(|_| invalid("malformed token"))?,
    })
}

/// Unsubscribe links: `u1.{conversation}.{signature}`. Such a token stops one conversation's
/// emails and opens nothing, so a link that mail providers and scanners pass around gives
/// no one the chat; it lasts as long as the emails it is in.
pub mod unsubscribe {
    use super::{from_hex, mac, to_hex};
    use crate::{ConversationId, ErrorCode, ProtocolError};
    use hmac::Mac;

    const PREFIX: &str = "u1";

    pub fn sign(secret: &[u8], conversation: &ConversationId) -> String {
        let payload = format!("{PREFIX}.{conversation}");
        let signature = to_hex(&mac(secret, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    pub fn verify(secret: &[u8], token: &str) -> Result<ConversationId, ProtocolError> {
        let invalid = || ProtocolError::new(ErrorCode::InvalidToken, "not an unsubscribe link");
        let (payload, signature) = token.rsplit_once('.').ok_or_else(invalid)?;
        let signature = from_hex(signature).ok_or_else(invalid)?;
        mac(secret, payload).verify_slice(&signature).map_err(|_| invalid())?;
        let conversation = payload.strip_prefix(PREFIX).and_then(|rest| rest.strip_prefix('.')).ok_or_else(invalid)?;
        ConversationId::parse(conversation).map_err(|_| invalid())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn it_names_one_conversation_and_is_no_visitor_token() {
            let conversation = ConversationId::parse(&"ab".repeat(32)).unwrap();
            let token = sign(b"secret", &conversation);
            assert_eq!(verify(b"secret", &token).unwrap(), conversation);
            assert!(verify(b"other secret", &token).is_err());
            assert!(verify(b"secret", &token.replace(&"ab".repeat(32), &"cd".repeat(32))).is_err());
            // Neither kind of token passes for the other.
            assert_eq!(super::super::verify(b"secret", &token, 0).unwrap_err().code, ErrorCode::InvalidToken);
            let grant = super::super::VisitorGrant { site: crate::SiteId::parse("demo").unwrap(), conversation };
            assert!(verify(b"secret", &super::super::sign(b"secret", &grant, 1_000)).is_err());
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> VisitorGrant {
        VisitorGrant { site: SiteId::parse("demo").unwrap(), conversation: ConversationId::parse(&"ab".repeat(32)).unwrap() }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let token = sign(b"secret", &grant(), 1_000);
        assert_eq!(verify(b"secret", &token, 999).unwrap(), grant());
        assert_eq!(verify(b"secret", &token, 1_000).unwrap_err().message, "token expired");
    }

    #[test]
    fn forgeries_are_refused() {
        let token = sign(b"secret", &grant(), 1_000);
        assert!(verify(b"other secret", &token, 0).is_err());
        let other_conv = token.replace(&"ab".repeat(32), &"cd".repeat(32));
        assert!(verify(b"secret", &other_conv, 0).is_err());
        let longer = token.replace(".1000.", ".9999.");
        assert!(verify(b"secret", &longer, 0).is_err());
        for junk in ["", "v1", "....", "v1.demo.x.1.zz"] {
            assert_eq!(verify(b"secret", junk, 0).unwrap_err().code, ErrorCode::InvalidToken);
        }
    }
}

/// Reply-To addresses: `r-{conversation}-{signature}@{domain}`, the conversation id (32
/// bytes) and 40 bits of its HMAC in lowercase base32, so the local part stays within the 64
/// characters mail servers accept. A reply to it can only land in that conversation.
pub mod reply_address {
    use super::mac;
    use crate::{ConversationId, ErrorCode, ProtocolError};

    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    const SIGNATURE_BYTES: usize = 5;

    fn base32(bytes: &[u8]) -> String {
        let mut out = String::new();
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &b in bytes {
            buffer = (buffer << 8) | b as u32;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    fn unbase32(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let (mut buffer, mut bits) = (0u32, 0u32);
        for c in s.bytes() {
            let value = ALPHABET.iter().position(|&a| a == c.to_ascii_lowercase())? as u32;
            buffer = (buffer << 5) | value;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
            }
        }
        Some(out)
    }

    fn signature(secret: &[u8], conversation: &ConversationId) -> Vec<u8> {
        use hmac::Mac;
        let full = mac(secret, &format!("reply.{conversation}")).finalize().into_bytes();
        full[..SIGNATURE_BYTES].to_vec()
    }

    pub fn for_conversation(secret: &[u8], conversation: &ConversationId, domain: &str) -> String {
        let id: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&conversation.as_str()[i * 2..i * 2 + 2], 16).unwrap_or(0)).collect();
        format!("r-{}-{}@{domain}", base32(&id), base32(&signature(secret, conversation)))
    }

    /// The conversation a reply address belongs to, if its signature holds.
    pub fn conversation_of(secret: &[u8], address: &str) -> Result<ConversationId, ProtocolError> {
        let invalid = || ProtocolError::new(ErrorCode::InvalidToken, "not one of our reply addresses");
        // "Name <r-…@domain>" or the bare address.
        let address = address.rsplit('<').next().unwrap_or(address).trim_end_matches('>').trim();
        let local = address.split('@').next().ok_or_else(invalid)?;
        let mut parts = local.strip_prefix("r-").ok_or_else(invalid)?.split('-');
        let (Some(id), Some(sig), None) = (parts.next(), parts.next(), parts.next()) else { return Err(invalid()) };
        let id = unbase32(id).filter(|b| b.len() == 32).ok_or_else(invalid)?;
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let conversation = ConversationId::parse(&hex).map_err(|_| invalid())?;
        let expected = signature(secret, &conversation);
        let given = unbase32(sig).ok_or_else(invalid)?;
        // Constant time over the signature bytes.
        let same = given.len() == expected.len() && given.iter().zip(&expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same {
            Ok(conversation)
        } else {
            Err(invalid())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips_within_64_characters_and_refuses_forgeries() {
            let conversation = ConversationId::parse(&"a7".repeat(32)).unwrap();
            let address = for_conversation(b"secret", &conversation, "reply.example.com");
            let local = address.split('@').next().unwrap();
            assert!(local.len() <= 64, "{local} is {} long", local.len());
            assert_eq!(conversation_of(b"secret", &address).unwrap(), conversation);
            assert_eq!(conversation_of(b"secret", &format!("Demo <{address}>")).unwrap(), conversation);
            assert!(conversation_of(b"other", &address).is_err());
            let other = for_conversation(b"secret", &ConversationId::parse(&"b8".repeat(32)).unwrap(), "x.y");
            let spliced = format!("{}-{}", address.rsplit_once('-').unwrap().0, other.rsplit_once('-').unwrap().1);
            assert!(conversation_of(b"secret", &spliced).is_err());
            assert!(conversation_of(b"secret", "someone@example.com").is_err());
        }
    }
}

/// Hex HMAC-SHA256 of `data`: signs request bodies (inbound email hooks).
pub fn sign_bytes(secret: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(data);
    to_hex(&mac.finalize().into_bytes())
}

/// Checks a [`sign_bytes`] signature in constant time.
pub fn verify_bytes(secret: &[u8], data: &[u8], signature_hex: &str) -> bool {
    let Some(signature) = from_hex(signature_hex.trim()) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.verify_slice(&signature).is_ok()
}

/// Checks a webhook call as its receiver should: the signature over the timestamp, the
/// delivery id and the body, and a timestamp within [`WEBHOOK_TOLERANCE_SECS`] of `now_secs`.
pub fn verify_webhook(site_secret: &str, timestamp: &str, delivery: &str, body: &str, signature_hex: &str, now_secs: u64) -> bool {
    let Ok(timestamp) = timestamp.trim().parse::<u64>() else { return false };
    timestamp.abs_diff(now_secs) <= WEBHOOK_TOLERANCE_SECS
        && verify_bytes(site_secret.as_bytes(), crate::automations::webhook_signed_text(timestamp, delivery, body).as_bytes(), signature_hex)
}

/// How far a webhook call's timestamp may be from the receiver's clock.
pub const WEBHOOK_TOLERANCE_SECS: u64 = 300;

/// A site's identity secret, derived from the relay's secret (nothing to store; rotating the
/// relay secret rotates them all).
pub fn identity_secret(relay_secret: &[u8], site: &SiteId) -> String {
    sign_bytes(relay_secret, format!("identity.{site}").as_bytes())
}

/// The key a site's webhook calls are signed with, derived like [`identity_secret`].
pub fn webhook_secret(relay_secret: &[u8], site: &SiteId) -> String {
    sign_bytes(relay_secret, format!("webhook.{site}").as_bytes())
}

/// The key a site's bot answers with (`Authorization: Bearer`), derived like
/// [`identity_secret`]; apart from the webhook key, so a webhook receiver cannot answer as it.
pub fn bot_key(relay_secret: &[u8], site: &SiteId) -> String {
    sign_bytes(relay_secret, bot_key_input(site).as_bytes())
}

/// Whether `key` is [`bot_key`] for `site`, in constant time.
pub fn verify_bot_key(relay_secret: &[u8], site: &SiteId, key: &str) -> bool {
    verify_bytes(relay_secret, bot_key_input(site).as_bytes(), key)
}

fn bot_key_input(site: &SiteId) -> String {
    format!("bot.{site}")
}

/// Whether `identity` is vouched for with `site_secret` (the hex string a site holds).
pub fn verify_identity(site_secret: &str, identity: &crate::content::Identity) -> bool {
    verify_bytes(site_secret.as_bytes(), identity.user_id.as_bytes(), &identity.user_hash)
}
