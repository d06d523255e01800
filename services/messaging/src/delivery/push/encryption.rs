//! Web Push message encryption (RFC 8291, the `aes128gcm` content coding of RFC
//! 8188): only the browser that subscribed reads the notice; the push service in
//! between sees ciphertext. Each message has its own key pair and salt.

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The record size announced in the header; one record holds the whole message.
const RECORD_SIZE: u32 = 4096;

/// The longest notice a push message carries: a 4,096-byte record less its
/// header (86 bytes), tag (16) and delimiter (1).
pub(crate) const MAX_PLAINTEXT: usize = 3993;

/// A browser's push subscription keys, as `PushSubscription.getKey()` gives them.
pub(crate) struct Subscriber<'a> {
    /// `p256dh`: the browser's P-256 public key, uncompressed (65 bytes).
    pub(crate) public_key: &'a [u8],
    /// `auth`: the 16-byte authentication secret.
    pub(crate) auth: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum EncryptionError {
    #[error("the subscription's p256dh is not a P-256 public key")]
    PublicKey,
    #[error("the subscription's auth secret is not 16 bytes")]
    Auth,
    #[error("the message is longer than {MAX_PLAINTEXT} bytes")]
    TooLong,
}

/// A random P-256 key.
pub(crate) fn random_key() -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        fill(&mut bytes);
        // All but a vanishing few 32-byte strings are valid scalars.
        if let Ok(key) = SecretKey::from_slice(&bytes) {
            return key;
        }
    }
}

fn fill(bytes: &mut [u8]) {
    getrandom::fill(bytes)
        .unwrap_or_else(|error| panic!("the system's randomness failed: {error}"));
}

/// `plaintext` encrypted for `to`, as the body of a push request.
pub(crate) fn encrypt(plaintext: &[u8], to: &Subscriber<'_>) -> Result<Vec<u8>, EncryptionError> {
    let mut salt = [0u8; 16];
    fill(&mut salt);
    encrypt_with(plaintext, to, &random_key(), salt)
}

/// [`encrypt`] with the sender's key and salt given (the RFC's test vector).
fn encrypt_with(
    plaintext: &[u8],
    to: &Subscriber<'_>,
    sender: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, EncryptionError> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(EncryptionError::TooLong);
    }
    let receiver =
        PublicKey::from_sec1_bytes(to.public_key).map_err(|_| EncryptionError::PublicKey)?;
    if to.auth.len() != 16 {
        return Err(EncryptionError::Auth);
    }
    let sender_public = sender.public_key().to_sec1_bytes();
    let shared = sender.diffie_hellman(&receiver);

    // RFC 8291 §3.3: the input keying material from the shared secret and both keys.
    let mut key_info = Vec::with_capacity(14 + 65 + 65);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(to.public_key);
    key_info.extend_from_slice(&sender_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(to.auth), shared.raw_secret_bytes().as_slice())
        .expand(&key_info, &mut ikm)
        .map_err(|_| EncryptionError::Auth)?;

    // RFC 8188 §2.2–2.3: the content key and nonce from the salt.
    let content = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let mut key = [0u8; 16];
    let mut nonce = [0u8; 12];
    content
        .expand(b"Content-Encoding: aes128gcm\0", &mut key)
        .and_then(|()| content.expand(b"Content-Encoding: nonce\0", &mut nonce))
        .map_err(|_| EncryptionError::Auth)?;

    // One record, the last: the plaintext and its delimiter 0x02, no padding.
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&key).map_err(|_| EncryptionError::Auth)?;
    let nonce = Nonce::try_from(&nonce[..]).map_err(|_| EncryptionError::Auth)?;
    let sealed = cipher
        .encrypt(&nonce, record.as_slice())
        .map_err(|_| EncryptionError::TooLong)?;

    let mut body = Vec::with_capacity(16 + 4 + 1 + sender_public.len() + sealed.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(sender_public.len() as u8);
    body.extend_from_slice(&sender_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    /// RFC 8291 §5: the example's keys, salt and message give its body exactly.
    #[test]
    fn the_rfc_8291_example_encrypts_to_its_published_body() {
        let sender =
            SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        let receiver_public = b64(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        );
        let auth = b64("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(
            b"When I grow up, I want to be a watermelon",
            &Subscriber {
                public_key: &receiver_public,
                auth: &auth,
            },
            &sender,
            salt,
        )
        .unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn given_bad_keys_or_a_long_message_then_encryption_says_which() {
        let receiver = random_key().public_key().to_sec1_bytes();
        let auth = [7u8; 16];
        let cases: [(&[u8], &[u8], usize, EncryptionError); 3] = [
            (&[4u8; 65], &auth, 10, EncryptionError::PublicKey),
            (&receiver, &auth[..8], 10, EncryptionError::Auth),
            (
                &receiver,
                &auth,
                MAX_PLAINTEXT + 1,
                EncryptionError::TooLong,
            ),
        ];
        for (public_key, auth, length, expected) in cases {
            let refused =
                encrypt(&vec![b'a'; length], &Subscriber { public_key, auth }).unwrap_err();
            assert_eq!(refused, expected);
        }
        let fits = encrypt(
            &vec![b'a'; MAX_PLAINTEXT],
            &Subscriber {
                public_key: &receiver,
                auth: &auth,
            },
        );
        assert_eq!(fits.unwrap().len(), RECORD_SIZE as usize);
    }
}
