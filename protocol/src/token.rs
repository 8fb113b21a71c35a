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

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
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
