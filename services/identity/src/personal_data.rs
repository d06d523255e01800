//! Personal data sealed in identity's event store. A person's name, birth date,
//! phone number and username, and the free text written about them, are stored in
//! their events encrypted (AES-256-GCM) under a key of that person's own, kept in
//! `personal_data_keys` and nowhere else. The published events never carry them
//! (proto/lienlac/identity/v2/events.proto). Erasing the person deletes the key:
//! what the log holds of them can no longer be read, while the log stays whole and
//! the person stays an id (docs/privacy.md).

use std::collections::HashMap;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kernel::event_store::NewEvent;
use kernel::write_model::Fact;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

/// The stored events' field that holds the sealed personal data.
const SEALED_FIELD: &str = "personal";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;

/// What identity knows of a person beyond ids and codes; empty fields are not
/// stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PersonalFields {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) full_name: String,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) birth_date: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) phone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) username: String,
    /// Free text about the person, such as why a student left.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) reason: String,
    /// How a guardian chose to appear in conversations.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) display_name: String,
}

/// Personal fields as an event stores them: whose key seals them, the nonce and
/// the ciphertext with its tag.
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    person_id: Uuid,
    nonce: String,
    ciphertext: String,
}

/// A person's data key; never printed, logged or put in an event.
struct DataKey(Vec<u8>);

impl DataKey {
    fn cipher(&self) -> anyhow::Result<Aes256Gcm> {
        Aes256Gcm::new_from_slice(&self.0)
            .map_err(|_| anyhow::anyhow!("a data key is not 32 bytes"))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SealError {
    #[error("the personal data of person {0} was erased")]
    Erased(Uuid),
    /// Registered by a version before personal data was sealed.
    #[error("person {0} has no data key")]
    NoKey(Uuid),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// An erased person's account is left with this username, followed by its id.
pub(crate) const ERASED_USERNAME_PREFIX: &str = "erased-";

pub(crate) fn erased_username(account_id: &str) -> String {
    format!("{ERASED_USERNAME_PREFIX}{account_id}")
}

/// Gives `person` a data key, in the transaction that registers them.
pub(crate) async fn create_key(conn: &mut PgConnection, person: Uuid) -> anyhow::Result<()> {
    let mut key = vec![0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for a data key: {e}"))?;
    sqlx::query("INSERT INTO personal_data_keys (person_id, key) VALUES ($1, $2)")
        .bind(person)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives each of `people` a data key, in the transaction that registers them
/// together.
pub(crate) async fn create_keys(conn: &mut PgConnection, people: &[Uuid]) -> anyhow::Result<()> {
    let mut keys = Vec::with_capacity(people.len());
    for _ in people {
        let mut key = vec![0u8; KEY_BYTES];
        getrandom::fill(&mut key)
            .map_err(|e| anyhow::anyhow!("no randomness for a data key: {e}"))?;
        keys.push(key);
    }
    sqlx::query("INSERT INTO personal_data_keys (person_id, key) SELECT * FROM unnest($1::uuid[], $2::bytea[])")
        .bind(people)
        .bind(keys)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes `person`'s key: their sealed fields are unreadable from now on.
pub(crate) async fn erase_key(conn: &mut PgConnection, person: Uuid) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM personal_data_keys WHERE person_id = $1")
        .bind(person)
        .execute(conn)
        .await?;
    Ok(())
}

async fn key_of(conn: &mut PgConnection, person: Uuid) -> anyhow::Result<Option<DataKey>> {
    let key: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT key FROM personal_data_keys WHERE person_id = $1")
            .bind(person)
            .fetch_optional(conn)
            .await?;
    Ok(key.map(DataKey))
}

/// `public`, published as it is and stored with `fields` sealed under `person`'s
/// key beside it.
pub(crate) async fn sealed_event<P>(
    conn: &mut PgConnection,
    person: Uuid,
    public: &P,
    fields: &PersonalFields,
) -> Result<NewEvent, SealError>
where
    P: prost::Message + prost::Name + Serialize,
{
    let Some(key) = key_of(conn, person).await? else {
        let erased: Option<bool> =
            sqlx::query_scalar("SELECT erased_at IS NOT NULL FROM people WHERE id = $1")
                .bind(person)
                .fetch_optional(&mut *conn)
                .await
                .map_err(anyhow::Error::from)?;
        return Err(match erased {
            Some(true) => SealError::Erased(person),
            _ => SealError::NoKey(person),
        });
    };
    let event = NewEvent::from_message(public).map_err(anyhow::Error::from)?;
    let sealed = seal(&key, person, &event.event_type, fields)?;
    Ok(event
        .keeping(SEALED_FIELD, sealed)
        .map_err(anyhow::Error::from)?)
}

/// `public`, published as it is and stored with each person's fields sealed
/// under that person's key beside it: an event about many people, each of whom
/// can be erased alone. The keys were made in this transaction.
pub(crate) async fn sealed_event_of_many<P>(
    conn: &mut PgConnection,
    public: &P,
    people: &[(Uuid, PersonalFields)],
) -> anyhow::Result<NewEvent>
where
    P: prost::Message + prost::Name + Serialize,
{
    let ids: Vec<Uuid> = people.iter().map(|(id, _)| *id).collect();
    let keys = keys_of(conn, &ids).await?;
    let event = NewEvent::from_message(public)?;
    let mut sealed = Vec::with_capacity(people.len());
    for (person, fields) in people {
        let key = keys
            .get(person)
            .ok_or_else(|| anyhow::anyhow!("person {person} has no data key"))?;
        sealed.push(seal(key, *person, &event.event_type, fields)?);
    }
    Ok(event.keeping(SEALED_FIELD, sealed)?)
}

/// The personal fields of each person an event of many sealed
/// ([`sealed_event_of_many`]); an erased person is left out.
pub(crate) async fn open_many(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<HashMap<Uuid, PersonalFields>> {
    let sealed: Vec<Sealed> = fact.required(SEALED_FIELD)?;
    let ids: Vec<Uuid> = sealed.iter().map(|s| s.person_id).collect();
    let keys = keys_of(conn, &ids).await?;
    let mut opened = HashMap::with_capacity(sealed.len());
    for sealed in &sealed {
        if let Some(key) = keys.get(&sealed.person_id) {
            opened.insert(sealed.person_id, unseal(key, fact.event_type, sealed)?);
        }
    }
    Ok(opened)
}

async fn keys_of(
    conn: &mut PgConnection,
    people: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, DataKey>> {
    let keys: Vec<(Uuid, Vec<u8>)> =
        sqlx::query_as("SELECT person_id, key FROM personal_data_keys WHERE person_id = ANY($1)")
            .bind(people)
            .fetch_all(conn)
            .await?;
    Ok(keys
        .into_iter()
        .map(|(person, key)| (person, DataKey(key)))
        .collect())
}

/// The personal fields `fact` sealed; `None` once their person was erased.
pub(crate) async fn open(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<Option<PersonalFields>> {
    let sealed: Sealed = fact.required(SEALED_FIELD)?;
    let Some(key) = key_of(conn, sealed.person_id).await? else {
        return Ok(None);
    };
    unseal(&key, fact.event_type, &sealed).map(Some)
}

/// The event type and the person are authenticated with the fields, so sealed
/// fields moved to another event or person do not open.
fn associated_data(person: Uuid, event_type: &str) -> Vec<u8> {
    let mut aad = person.as_bytes().to_vec();
    aad.extend_from_slice(event_type.as_bytes());
    aad
}

fn seal(
    key: &DataKey,
    person: Uuid,
    event_type: &str,
    fields: &PersonalFields,
) -> anyhow::Result<Sealed> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness for a nonce: {e}"))?;
    let plaintext = serde_json::to_vec(fields)?;
    let aad = associated_data(person, event_type);
    let ciphertext = key
        .cipher()?
        .encrypt(
            &nonce.into(),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| anyhow::anyhow!("sealing personal data failed"))?;
    Ok(Sealed {
        person_id: person,
        nonce: BASE64.encode(nonce),
        ciphertext: BASE64.encode(ciphertext),
    })
}

fn unseal(key: &DataKey, event_type: &str, sealed: &Sealed) -> anyhow::Result<PersonalFields> {
    let nonce: [u8; NONCE_BYTES] = BASE64
        .decode(&sealed.nonce)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("a sealed nonce is not {NONCE_BYTES} bytes"))?;
    let ciphertext = BASE64.decode(&sealed.ciphertext)?;
    let aad = associated_data(sealed.person_id, event_type);
    let plaintext = key
        .cipher()?
        .decrypt(
            &nonce.into(),
            Payload {
                msg: &ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| anyhow::anyhow!("sealed personal data of a {event_type} do not open"))?;
    Ok(serde_json::from_slice(&plaintext)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        let mut key = vec![0u8; KEY_BYTES];
        getrandom::fill(&mut key).unwrap();
        DataKey(key)
    }

    fn fields() -> PersonalFields {
        PersonalFields {
            full_name: "Nguyễn Gia Phúc".into(),
            birth_date: "2019-05-04".into(),
            ..PersonalFields::default()
        }
    }

    #[test]
    fn sealed_fields_open_with_their_key_event_and_person_only() {
        let (key, person) = (key(), Uuid::now_v7());
        let sealed = seal(&key, person, "StudentRegistered", &fields()).unwrap();
        let stored = serde_json::to_string(&sealed).unwrap();
        assert!(!stored.contains("Phúc") && !stored.contains("2019-05-04"));
        assert_eq!(
            unseal(&key, "StudentRegistered", &sealed).unwrap(),
            fields()
        );

        assert!(unseal(&self::key(), "StudentRegistered", &sealed).is_err());
        assert!(unseal(&key, "StudentWithdrawn", &sealed).is_err());
        let moved = Sealed {
            person_id: Uuid::now_v7(),
            ..sealed
        };
        assert!(unseal(&key, "StudentRegistered", &moved).is_err());
    }

    #[test]
    fn the_same_fields_seal_differently_each_time() {
        let (key, person) = (key(), Uuid::now_v7());
        let first = seal(&key, person, "StudentRegistered", &fields()).unwrap();
        let second = seal(&key, person, "StudentRegistered", &fields()).unwrap();
        assert_ne!(first.ciphertext, second.ciphertext);
        assert_ne!(first.nonce, second.nonce);
    }
}
