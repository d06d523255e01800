//! What the providers tell lienlac back, on messaging's port as plain HTTP:
//! receipts that move a delivery to `delivered` (or `failed`), and replies a
//! guardian sends to an SMS: STOP stops SMS to them, START restarts it, each
//! confirmed by SMS saying what stopping also stops. Each address carries a
//! secret (derived from the service's link key, so every replica knows it);
//! a wrong one is 404. Providers want an answer within two seconds: the
//! handlers only update rows, and a confirmation is sent in the background.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::Channel;
use super::outcome::Outcome;
use super::sms::Sms;
use crate::attachments::links::LinkKey;

/// What a stop also stops, said to the guardian when they stop.
pub(crate) const STOPPED: &str = "lienlac: Bạn đã ngừng nhận tin nhắn SMS của nhà trường, kể cả \
    thông báo vắng mặt và tin khẩn cấp. Các thông báo vẫn có trong ứng dụng. Nhắn START để nhận lại.";
pub(crate) const STARTED: &str =
    "lienlac: Bạn sẽ nhận lại tin nhắn SMS của nhà trường. Nhắn STOP để ngừng.";

#[derive(Clone)]
pub(crate) struct Webhooks {
    pub(crate) pool: PgPool,
    pub(crate) key: LinkKey,
    /// The SMS channel, to confirm a STOP or START; none when SMS is off.
    pub(crate) sms: Option<Sms>,
}

impl Webhooks {
    /// The secret in the providers' webhook addresses.
    pub(crate) fn secret(key: &LinkKey) -> String {
        key.derived("webhooks")
            .iter()
            .take(16)
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The paths the providers are given, under the service's public address.
    pub(crate) fn sms_status_path(key: &LinkKey) -> String {
        format!("/webhooks/sms/{}/status", Self::secret(key))
    }

    pub(crate) fn router(self) -> Router {
        Router::new()
            .route(
                "/webhooks/sms/{secret}/status",
                get(sms_status).post(sms_status),
            )
            .route("/webhooks/sms/{secret}/reply", post(sms_reply))
            .route("/webhooks/zalo/{secret}", post(zalo_event))
            .with_state(self)
    }

    /// A provider's JSON `body` sent to the address with `secret`: 404 for a
    /// wrong secret, 400 for a body that is not the provider's shape.
    fn read<T: serde::de::DeserializeOwned>(
        &self,
        secret: &str,
        body: &[u8],
    ) -> Result<T, StatusCode> {
        if !self.admits(secret) {
            return Err(StatusCode::NOT_FOUND);
        }
        serde_json::from_slice(body).map_err(|_| StatusCode::BAD_REQUEST)
    }

    fn admits(&self, secret: &str) -> bool {
        // The secret is compared as a whole; a guess learns nothing from the time.
        let expected = Self::secret(&self.key);
        expected.len() == secret.len()
            && expected
                .bytes()
                .zip(secret.bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// A phone number as the providers write it, as lienlac keys it: "84" and the
/// nine subscriber digits.
pub(crate) fn phone_key(raw: &str) -> Option<String> {
    school::text::mobile_digits(raw).map(|national| format!("84{national}"))
}

/// The stand-in lienlac keeps for a phone number it sent to.
pub(crate) fn phone_hash(key: &LinkKey, phone: &str) -> Vec<u8> {
    key.derived(&format!("phone:{phone}"))
}

#[derive(Deserialize)]
struct SmsStatus {
    #[serde(rename = "SMSID")]
    sms_id: String,
    #[serde(rename = "SendStatus")]
    send_status: String,
}

/// eSMS's receipt: `SendStatus` 5 is on the handset; 3, 4 and 6 are failures.
async fn sms_status(
    State(hooks): State<Webhooks>,
    Path(secret): Path<String>,
    Query(status): Query<SmsStatus>,
) -> StatusCode {
    if !hooks.admits(&secret) {
        return StatusCode::NOT_FOUND;
    }
    let receipt = match status.send_status.as_str() {
        "5" => Some(None),
        "3" | "4" | "6" => Some(Some(format!(
            "the handset did not receive it (SendStatus {})",
            status.send_status
        ))),
        _ => None,
    };
    match receipt {
        Some(failure) => {
            answered(receipt_of(&hooks.pool, Channel::Sms, &status.sms_id, None, failure).await)
        }
        None => StatusCode::OK,
    }
}

#[derive(Deserialize)]
struct ZaloEvent {
    event_name: String,
    #[serde(default)]
    message: Option<ZaloMessage>,
}

#[derive(Deserialize)]
struct ZaloMessage {
    msg_id: String,
    /// The delivery's id, as lienlac sent it.
    #[serde(default)]
    tracking_id: Option<String>,
}

/// Zalo's `user_received_message`: the ZNS message is on the phone.
async fn zalo_event(
    State(hooks): State<Webhooks>,
    Path(secret): Path<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let event: ZaloEvent = match hooks.read(&secret, &body) {
        Ok(event) => event,
        Err(refused) => return refused,
    };
    match (event.event_name.as_str(), event.message) {
        ("user_received_message", Some(message)) => {
            let delivery = message
                .tracking_id
                .as_deref()
                .and_then(|id| id.parse::<Uuid>().ok());
            answered(receipt_of(&hooks.pool, Channel::Zalo, &message.msg_id, delivery, None).await)
        }
        _ => StatusCode::OK,
    }
}

fn answered(result: sqlx::Result<Receipt>) -> StatusCode {
    match result {
        Ok(Receipt::Recorded) => StatusCode::OK,
        // Sent a moment ago and not yet recorded as sent: the provider tries again.
        Ok(Receipt::Early) => StatusCode::SERVICE_UNAVAILABLE,
        Err(error) => {
            tracing::warn!(error = ?error, "a provider's receipt was not recorded; it will send it again");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

enum Receipt {
    Recorded,
    /// No delivery is known by that reference yet.
    Early,
}

/// A provider's receipt for its message `provider_ref` (lienlac's `delivery`
/// where the provider repeats it): delivered, or failed. It may come before the
/// sender has recorded the message as sent (a row still `queued`); the sender
/// then leaves the receipt's state as it is.
async fn receipt_of(
    pool: &PgPool,
    channel: Channel,
    provider_ref: &str,
    delivery: Option<Uuid>,
    failure: Option<String>,
) -> sqlx::Result<Receipt> {
    let known: Option<bool> = sqlx::query_scalar(
        "WITH target AS (SELECT id, state FROM deliveries WHERE channel = $1 \
             AND (provider_ref = $2 OR id = $4) LIMIT 1), \
         updated AS (UPDATE deliveries d SET \
             state = CASE WHEN $3::text IS NULL THEN 'delivered' ELSE 'failed' END, \
             provider_ref = coalesce(d.provider_ref, $2), \
             delivered_at = CASE WHEN $3::text IS NULL THEN now() END, \
             finished_at = CASE WHEN $3::text IS NOT NULL THEN now() END, \
             last_error = coalesce($3, d.last_error) \
             FROM target WHERE d.id = target.id AND target.state IN ('queued', 'sent') \
             RETURNING d.id) \
         SELECT true FROM target",
    )
    .bind(channel as i16)
    .bind(provider_ref)
    .bind(failure)
    .bind(delivery)
    .fetch_optional(pool)
    .await?;
    Ok(if known.is_some() {
        Receipt::Recorded
    } else {
        Receipt::Early
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SmsReply {
    phone: String,
    content: String,
}

/// STOP or START from a number lienlac sent SMS to; anything else is ignored.
async fn sms_reply(
    State(hooks): State<Webhooks>,
    Path(secret): Path<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let reply: SmsReply = match hooks.read(&secret, &body) {
        Ok(reply) => reply,
        Err(refused) => return refused,
    };
    let Some(phone) = phone_key(&reply.phone) else {
        return StatusCode::OK;
    };
    let word = reply.content.trim().to_uppercase();
    let stop = match word.as_str() {
        "STOP" | "TU CHOI" | "TỪ CHỐI" => true,
        "START" => false,
        _ => return StatusCode::OK,
    };
    match stop_or_start(&hooks.pool, &phone_hash(&hooks.key, &phone), stop).await {
        Ok(people) if !people.is_empty() => {
            if let Some(sms) = hooks.sms.clone() {
                tokio::spawn(confirm(hooks.pool.clone(), sms, phone, people, stop));
            }
            StatusCode::OK
        }
        Ok(_) => StatusCode::OK,
        Err(error) => answered(Err(error)),
    }
}

/// Stops (or restarts) SMS to the people lienlac reached at the number hashed as
/// `hash`; who they are.
async fn stop_or_start(pool: &PgPool, hash: &[u8], stop: bool) -> sqlx::Result<Vec<Uuid>> {
    let people: Vec<Uuid> =
        sqlx::query_scalar("SELECT DISTINCT recipient_id FROM deliveries WHERE phone_hash = $1")
            .bind(hash)
            .fetch_all(pool)
            .await?;
    let sql = if stop {
        "INSERT INTO channel_stops (person_id, channel, stopped_at) \
         SELECT unnest($1::uuid[]), $2, now() ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM channel_stops WHERE person_id = ANY($1) AND channel = $2"
    };
    sqlx::query(sql)
        .bind(&people)
        .bind(Channel::Sms as i16)
        .execute(pool)
        .await?;
    Ok(people)
}

/// Tells the guardian what their STOP or START did; a STOP's confirmation is
/// the last SMS they get, and its cost is kept with the stop.
async fn confirm(pool: PgPool, sms: Sms, phone: String, people: Vec<Uuid>, stop: bool) {
    let text = if stop { STOPPED } else { STARTED };
    match sms
        .send_text(&phone, text, Uuid::now_v7().to_string())
        .await
    {
        Outcome::Sent { cost_vnd, .. } if stop => {
            if let Err(error) = sqlx::query(
                "UPDATE channel_stops SET reply_cost_vnd = reply_cost_vnd + $2 \
                 WHERE person_id = $1[1] AND channel = $3",
            )
            .bind(&people)
            .bind(cost_vnd)
            .bind(Channel::Sms as i16)
            .execute(&pool)
            .await
            {
                tracing::warn!(error = ?error, "a confirmation's cost was not recorded");
            }
        }
        Outcome::Sent { .. } => {}
        outcome => tracing::warn!(?outcome, "a STOP or START was not confirmed by SMS"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_as_providers_write_them_key_the_same() {
        for raw in [
            "84912345678",
            "+84 912 345 678",
            "0912345678",
            "0912.345.678",
        ] {
            assert_eq!(phone_key(raw).as_deref(), Some("84912345678"), "{raw}");
        }
        for raw in ["", "12345", "849123456789", "1912345678"] {
            assert_eq!(phone_key(raw), None, "{raw}");
        }
    }
}
