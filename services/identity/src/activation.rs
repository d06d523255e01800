//! One-time activation codes: made at random, shown once, and kept as an
//! HMAC-SHA-256 under a server secret that lives in a file, not in the database,
//! so that a copy of the database alone cannot be used to test guesses offline.

use std::path::Path;

use anyhow::Context as _;
use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

const SECRET_BYTES: usize = 32;

/// Crockford's base32 alphabet: no I, L, O or U to misread on paper.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Clone)]
pub struct ActivationCodes {
    /// Keyed with the secret, cloned for each code.
    mac: HmacSha256,
}

impl ActivationCodes {
    /// Reads the secret (hex) at `path`, generating it (mode 0600) when missing.
    /// Every replica of identity must read the same file.
    pub fn load_or_generate(path: &Path) -> anyhow::Result<Self> {
        let secret = if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the activation secret {}", path.display()))?;
            parse_hex(text.trim()).ok_or_else(|| {
                anyhow::anyhow!("{} must hold {SECRET_BYTES} bytes in hex", path.display())
            })?
        } else {
            let mut secret = [0u8; SECRET_BYTES];
            getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("random: {e}"))?;
            crate::keys::write_secret_file(path, crate::passwords::hex(&secret).as_bytes())?;
            tracing::info!(path = %path.display(), "generated a new activation code secret");
            secret
        };
        let mac = HmacSha256::new_from_slice(&secret)
            .map_err(|e| anyhow::anyhow!("the activation secret: {e}"))?;
        Ok(Self { mac })
    }

    /// A new code, `XXXX-XXXX-XXXX` (60 random bits), and what to store of it.
    pub(crate) fn new_code(&self) -> anyhow::Result<(String, Vec<u8>)> {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let chars: Vec<char> = bytes
            .iter()
            .map(|b| CODE_ALPHABET[(b & 31) as usize] as char)
            .collect();
        let code = chars
            .chunks(4)
            .map(|group| group.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-");
        let digest = self.keyed(&code).finalize().into_bytes().to_vec();
        Ok((code, digest))
    }

    /// Whether `code`, as typed, is the one stored as `stored`. Codes issued before
    /// the secret existed (`keyed` false) were stored as bare SHA-256; they keep
    /// working until they expire.
    pub(crate) fn matches(&self, code: &str, stored: &[u8], keyed: bool) -> bool {
        if keyed {
            self.keyed(code).verify_slice(stored).is_ok()
        } else {
            Sha256::digest(normalized(code).as_bytes()).as_slice() == stored
        }
    }

    fn keyed(&self, code: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(normalized(code).as_bytes());
        mac
    }
}

/// The code as typed, ignoring case, spaces and dashes.
fn normalized(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn parse_hex(text: &str) -> Option<[u8; SECRET_BYTES]> {
    if text.len() != SECRET_BYTES * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; SECRET_BYTES];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> ActivationCodes {
        let dir = std::env::temp_dir().join(format!("lienlac-activation-{}", uuid::Uuid::now_v7()));
        ActivationCodes::load_or_generate(&dir.join("secret")).unwrap()
    }

    #[test]
    fn a_code_matches_however_typed_and_nothing_else_does() {
        let codes = codes();
        let (code, stored) = codes.new_code().unwrap();
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        let typed = code.replace('-', " ").to_lowercase();
        assert!(codes.matches(&code, &stored, true));
        assert!(codes.matches(&typed, &stored, true));
        assert!(!codes.matches("0000-0000-0000", &stored, true));
    }

    #[test]
    fn the_stored_form_is_keyed_so_another_secret_or_a_bare_hash_does_not_match() {
        let (code, stored) = codes().new_code().unwrap();
        assert!(!codes().matches(&code, &stored, true));
        assert_ne!(
            stored,
            Sha256::digest(normalized(&code).as_bytes()).to_vec()
        );
    }

    #[test]
    fn codes_from_before_the_secret_still_match_as_bare_hashes() {
        let codes = codes();
        let legacy = Sha256::digest(b"ABCD1234EFGH").to_vec();
        assert!(codes.matches("abcd-1234-efgh", &legacy, false));
        assert!(!codes.matches("abcd-1234-efgh", &legacy, true));
    }

    #[test]
    fn the_secret_is_read_back_from_its_file() {
        let path = std::env::temp_dir()
            .join(format!("lienlac-activation-{}", uuid::Uuid::now_v7()))
            .join("secret");
        let first = ActivationCodes::load_or_generate(&path).unwrap();
        let (code, stored) = first.new_code().unwrap();
        let again = ActivationCodes::load_or_generate(&path).unwrap();
        assert!(again.matches(&code, &stored, true));
        std::fs::write(&path, "not hex").unwrap();
        assert!(ActivationCodes::load_or_generate(&path).is_err());
    }
}
