//! Where a person asked to be reached beyond the app (`RegisterDevice`): their
//! browsers' push subscriptions and an email address; and how
//! (`SetDeliveryPreferences`): the channels in order, and a daily digest.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kernel::auth::Caller;
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1 as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Channel;
use crate::Ctx;

/// The most devices and addresses one person registers.
const MAX_DEVICES: i64 = 10;

/// Which push services lienlac sends to: origins, a host may start with `*.`
/// (`https://*.notify.windows.com`). An endpoint anywhere else is refused, so
/// that no account can make the server post to an address of its choosing.
#[derive(Debug, Clone)]
pub(crate) struct PushServices(pub(crate) Vec<String>);

impl PushServices {
    /// The push services of Chrome, Firefox, Safari and Edge.
    pub(crate) fn browsers() -> Self {
        Self(
            [
                "https://fcm.googleapis.com",
                "https://updates.push.services.mozilla.com",
                "https://web.push.apple.com",
                "https://*.notify.windows.com",
            ]
            .map(str::to_owned)
            .to_vec(),
        )
    }

    pub(crate) fn admits(&self, endpoint: &str) -> bool {
        let Some((scheme, rest)) = endpoint.split_once("://") else {
            return false;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') || rest.len() == authority.len() {
            return false;
        }
        self.0.iter().any(|origin| {
            let Some((allowed_scheme, allowed)) = origin.split_once("://") else {
                return false;
            };
            scheme == allowed_scheme
                && match allowed.strip_prefix("*.") {
                    Some(domain) => authority
                        .strip_suffix(domain)
                        .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
                    None => authority == allowed,
                }
        })
    }
}

/// An email address as people type it, or why not.
pub(crate) fn email_address(raw: &str) -> Result<String, &'static str> {
    let address = raw.trim();
    let (local, domain) = address.split_once('@').ok_or("an email address has an @")?;
    if address.len() > 254
        || local.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains('@')
        || address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return Err("not an email address");
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

fn device_of(row: (Uuid, i16, String, OffsetDateTime)) -> pb::Device {
    let (id, channel, address, created_at) = row;
    pb::Device {
        id: id.to_string(),
        channel: i32::from(channel),
        address,
        created_at: kernel::dates::rfc3339(created_at),
    }
}

/// Registers (or renews the keys of) one of the caller's devices.
pub(crate) async fn register(
    ctx: &Ctx,
    caller: &Caller,
    channel: Channel,
    address: String,
    keys: Option<(Vec<u8>, Vec<u8>)>,
) -> AppResult<pb::Device> {
    let person = caller
        .person_id
        .ok_or_else(|| AppError::Rejected("only people register devices".to_owned()))?;
    let (p256dh, auth) = keys.unzip();
    let mut tx = ctx.pool.begin().await?;
    // One registration at a time per person, so the cap holds.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1::text))")
        .bind(person)
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM devices WHERE person_id = $1 \
         AND NOT (channel = $2 AND address = $3)",
    )
    .bind(person)
    .bind(channel as i16)
    .bind(&address)
    .fetch_one(&mut *tx)
    .await?;
    if count >= MAX_DEVICES {
        return Err(AppError::Rejected(format!(
            "at most {MAX_DEVICES} devices and addresses a person; unregister one first"
        )));
    }
    let row: (Uuid, i16, String, OffsetDateTime) = sqlx::query_as(
        "INSERT INTO devices (id, person_id, channel, address, p256dh, auth, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now()) \
         ON CONFLICT (person_id, channel, address) DO UPDATE SET p256dh = $5, auth = $6 \
         RETURNING id, channel, address, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(person)
    .bind(channel as i16)
    .bind(&address)
    .bind(p256dh)
    .bind(auth)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(device_of(row))
}

/// A push subscription's key as the browser gives it, checked for its length.
pub(crate) fn push_key(field: &str, text: &str, length: usize) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
        .filter(|bytes| bytes.len() == length)
        .ok_or_else(|| format!("{field}: {length} bytes in URL-safe base64"))
}

pub(crate) async fn unregister(ctx: &Ctx, caller: &Caller, id: Uuid) -> AppResult<()> {
    let deleted = sqlx::query("DELETE FROM devices WHERE id = $1 AND person_id = $2")
        .bind(id)
        .bind(caller.person_id)
        .execute(&ctx.pool)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(AppError::NotFound("device"));
    }
    Ok(())
}

pub(crate) async fn list(ctx: &Ctx, caller: &Caller) -> AppResult<pb::ListDevicesResponse> {
    let rows: Vec<(Uuid, i16, String, OffsetDateTime)> = sqlx::query_as(
        "SELECT id, channel, address, created_at FROM devices WHERE person_id = $1 \
         ORDER BY created_at, id",
    )
    .bind(caller.person_id)
    .fetch_all(&ctx.pool)
    .await?;
    Ok(pb::ListDevicesResponse {
        devices: rows.into_iter().map(device_of).collect(),
    })
}

/// The caller's preferences, or the defaults.
pub(crate) async fn preferences(ctx: &Ctx, caller: &Caller) -> AppResult<pb::DeliveryPreferences> {
    let row: Option<(Vec<i16>, bool, OffsetDateTime)> = sqlx::query_as(
        "SELECT channels, daily_digest, updated_at FROM delivery_preferences WHERE person_id = $1",
    )
    .bind(caller.person_id)
    .fetch_optional(&ctx.pool)
    .await?;
    Ok(match row {
        Some((channels, daily_digest, updated_at)) => pb::DeliveryPreferences {
            channels: channels.into_iter().map(i32::from).collect(),
            daily_digest,
            updated_at: kernel::dates::rfc3339(updated_at),
        },
        None => pb::DeliveryPreferences {
            channels: Channel::DEFAULT_ORDER.iter().map(|c| *c as i32).collect(),
            ..Default::default()
        },
    })
}

pub(crate) async fn set_preferences(
    ctx: &Ctx,
    caller: &Caller,
    channels: Vec<Channel>,
    daily_digest: bool,
) -> AppResult<pb::DeliveryPreferences> {
    let person = caller
        .person_id
        .ok_or_else(|| AppError::Rejected("only people choose how they are reached".to_owned()))?;
    let numbers: Vec<i16> = channels.iter().map(|c| *c as i16).collect();
    sqlx::query(
        "INSERT INTO delivery_preferences (person_id, channels, daily_digest, updated_at) \
         VALUES ($1, $2, $3, now()) ON CONFLICT (person_id) DO UPDATE \
         SET channels = $2, daily_digest = $3, updated_at = now()",
    )
    .bind(person)
    .bind(&numbers)
    .bind(daily_digest)
    .execute(&ctx.pool)
    .await?;
    preferences(ctx, caller).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_an_endpoint_then_only_the_listed_push_services_are_admitted() {
        let services = PushServices::browsers();
        for (endpoint, admitted) in [
            ("https://fcm.googleapis.com/fcm/send/abc:def", true),
            (
                "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
                true,
            ),
            ("https://wns2-par02p.notify.windows.com/w/?token=x", true),
            ("https://notify.windows.com/w/", false),
            ("https://evil.com/fcm.googleapis.com/x", false),
            ("https://fcm.googleapis.com.evil.com/x", false),
            ("https://user@fcm.googleapis.com/x", false),
            ("http://fcm.googleapis.com/fcm/send/abc", false),
            ("https://169.254.169.254/latest/meta-data", false),
            ("https://fcm.googleapis.com", false),
            ("fcm.googleapis.com/fcm/send/abc", false),
        ] {
            assert_eq!(services.admits(endpoint), admitted, "{endpoint}");
        }
        let local = PushServices(vec!["http://127.0.0.1:4100".to_owned()]);
        assert!(local.admits("http://127.0.0.1:4100/push/1"));
        assert!(!local.admits("http://127.0.0.1:4101/push/1"));
    }

    #[test]
    fn given_what_a_person_typed_then_an_email_address_or_why_not() {
        assert_eq!(
            email_address(" Lan.Nguyen@Gmail.COM ").unwrap(),
            "Lan.Nguyen@gmail.com"
        );
        for bad in [
            "",
            "lan",
            "@gmail.com",
            "lan@localhost",
            "lan@@x.vn",
            "lan @x.vn",
            "a@x.vn>",
            "lan@.vn",
        ] {
            assert!(email_address(bad).is_err(), "{bad}");
        }
    }
}
