//! Web Push (RFC 8030): each of the person's browsers gets the notice, encrypted
//! for it (encryption.rs) and signed by lienlac (vapid.rs). A subscription the
//! push service says is gone (404, 410) is forgotten.

pub(crate) mod encryption;
pub(crate) mod vapid;

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::Outgoing;
use super::outcome::{Outcome, retry_hint};
use encryption::Subscriber;
use vapid::VapidKey;

/// How long a push service keeps a message for a browser that is offline.
const TIME_TO_LIVE: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone)]
pub(crate) struct Push {
    pub(crate) client: reqwest::Client,
    pub(crate) vapid: VapidKey,
    pub(crate) pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct Subscription {
    id: Uuid,
    address: String,
    p256dh: Vec<u8>,
    auth: Vec<u8>,
}

impl Push {
    /// Sends `message` to every browser of its recipient: sent if one took it.
    pub(crate) async fn send(&self, message: &Outgoing) -> Outcome {
        let subscriptions: Vec<Subscription> = match sqlx::query_as(
            "SELECT id, address, p256dh, auth FROM devices WHERE person_id = $1 AND channel = $2",
        )
        .bind(message.recipient)
        .bind(super::Channel::Push as i16)
        .fetch_all(&self.pool)
        .await
        {
            Ok(rows) => rows,
            Err(error) => return Outcome::retry(format!("reading the devices: {error}")),
        };
        if subscriptions.is_empty() {
            return Outcome::Failed("no browser is registered for push any more".to_owned());
        }
        let payload = serde_json::json!({
            "title": message.title,
            "body": message.text,
            "url": message.url,
            "notice_id": message.notice_id,
        })
        .to_string();
        let mut outcome = Outcome::Failed("every browser's subscription is gone".to_owned());
        for subscription in subscriptions {
            let this = self
                .send_to(&subscription, payload.as_bytes(), message)
                .await;
            if matches!(this, Outcome::Gone) {
                if let Err(error) = sqlx::query("DELETE FROM devices WHERE id = $1")
                    .bind(subscription.id)
                    .execute(&self.pool)
                    .await
                {
                    tracing::warn!(error = ?error, "a gone push subscription stays for now");
                }
                continue;
            }
            outcome = outcome.or(this);
        }
        outcome
    }

    async fn send_to(
        &self,
        subscription: &Subscription,
        payload: &[u8],
        message: &Outgoing,
    ) -> Outcome {
        let (urgent, topic) = (message.urgent, message.notice_id.simple().to_string());
        let body = match encryption::encrypt(
            payload,
            &Subscriber {
                public_key: &subscription.p256dh,
                auth: &subscription.auth,
            },
        ) {
            Ok(body) => body,
            Err(error) => return Outcome::Failed(error.to_string()),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let response = self
            .client
            .post(&subscription.address)
            .header(
                "Authorization",
                self.vapid.authorization(&subscription.address, now),
            )
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("TTL", TIME_TO_LIVE.as_secs().to_string())
            .header("Urgency", if urgent { "high" } else { "normal" })
            // A push service replaces a message still waiting for an offline
            // browser with a newer one of the same topic: the notice's.
            .header("Topic", topic)
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                return Outcome::retry(format!("the push service did not answer: {error}"));
            }
        };
        let status = response.status().as_u16();
        match status {
            200..=299 => Outcome::Sent {
                provider_ref: response
                    .headers()
                    .get("Location")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
                cost_vnd: 0,
            },
            404 | 410 => Outcome::Gone,
            429 | 500..=599 => Outcome::Retry {
                error: format!("the push service answered {status}"),
                after: retry_hint(response.headers()),
            },
            _ => Outcome::Failed(format!(
                "the push service refused the message ({status}): {}",
                response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect::<String>()
            )),
        }
    }
}
