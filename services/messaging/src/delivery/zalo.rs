//! Zalo Notification Service (ZNS) template messages through the Zalo Official
//! Account API: `POST /message/template` with the OA's access token, the phone
//! number, the district's approved template and its parameters, keyed by the
//! delivery's id (`tracking_id`). The access token lasts about a day; one replica
//! at a time refreshes it with the refresh token (`/v4/oa/access_token`), and all
//! share it through one row. `error` 0 is accepted; an expired token is refreshed
//! and the message sent again; a quota or rate refusal is tried later; any other
//! refusal (no Zalo account for the number, a bad template) is a dead letter.

use secrecy::ExposeSecret as _;
use serde::Deserialize;
use sqlx::PgPool;

use super::Outgoing;
use super::outcome::{Outcome, json_of, retry_hint};
use crate::config::ZaloSettings;

/// ZNS answers for an access token that is invalid or expired.
const TOKEN_EXPIRED: i64 = -124;
/// ZNS answers for a quota or a rate exceeded: worth trying later.
const TRY_LATER: [i64; 3] = [-32, -133, -137];

#[derive(Clone)]
pub(crate) struct Zalo {
    pub(crate) client: reqwest::Client,
    pub(crate) settings: ZaloSettings,
    pub(crate) pool: PgPool,
}

#[derive(Deserialize)]
struct SendResponse {
    error: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<SendData>,
}

#[derive(Deserialize)]
struct SendData {
    msg_id: String,
}

/// `/v4/oa/access_token`'s answer: the tokens, or an error.
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Seconds, as a string or a number.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<i64>,
    #[serde(default)]
    error_description: Option<String>,
}

impl Zalo {
    pub(crate) async fn send(&self, message: &Outgoing) -> Outcome {
        let Some(phone) = &message.phone else {
            return Outcome::Failed("the guardian has no phone number".to_owned());
        };
        let mut template = serde_json::Map::new();
        for (name, value) in &message.template {
            template.insert((*name).to_owned(), serde_json::Value::String(value.clone()));
        }
        let body = serde_json::json!({
            "phone": phone,
            "template_id": self.settings.template_id,
            "template_data": template,
            "tracking_id": message.delivery.to_string(),
        });
        let mut refreshed = false;
        loop {
            let token = match self.access_token(refreshed).await {
                Ok(token) => token,
                Err(error) => return Outcome::retry(error),
            };
            let response = match self
                .client
                .post(format!("{}/message/template", self.settings.url))
                .header("access_token", token)
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .await
            {
                Ok(response) => response,
                Err(error) => return Outcome::retry(format!("Zalo did not answer: {error}")),
            };
            let status = response.status();
            if status.as_u16() == 429 || status.is_server_error() {
                return Outcome::Retry {
                    error: format!("Zalo answered {status}"),
                    after: retry_hint(response.headers()),
                };
            }
            let answer: SendResponse = match json_of(response).await {
                Ok(answer) => answer,
                Err(error) => return Outcome::retry(error),
            };
            let said = format!("error {}: {}", answer.error, answer.message);
            return match answer.error {
                0 => Outcome::Sent {
                    provider_ref: answer.data.map(|data| data.msg_id),
                    cost_vnd: self.settings.price_vnd,
                },
                TOKEN_EXPIRED if !refreshed => {
                    refreshed = true;
                    continue;
                }
                code if TRY_LATER.contains(&code) || code == TOKEN_EXPIRED => {
                    Outcome::retry(format!("Zalo asks to try later ({said})"))
                }
                _ => Outcome::Failed(format!("Zalo refused it ({said})")),
            };
        }
    }

    /// The OA's access token, refreshed first when it expires within five
    /// minutes or `stale` (Zalo refused it).
    async fn access_token(&self, stale: bool) -> Result<String, String> {
        let current: Option<(String, bool)> = sqlx::query_as(
            "SELECT access_token, expires_at > now() + interval '5 minutes' FROM zalo_tokens",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(|error| format!("reading Zalo's token: {error}"))?;
        if let Some((token, fresh)) = &current
            && *fresh
            && !stale
        {
            return Ok(token.clone());
        }
        self.refresh(current.map(|(token, _)| token))
            .await
            .map_err(|error| format!("refreshing Zalo's access token: {error}"))
    }

    /// Refreshes the token `stale` unless another replica already did.
    async fn refresh(&self, stale: Option<String>) -> anyhow::Result<String> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('zalo-token'))")
            .execute(&mut *tx)
            .await?;
        let row: Option<(String, String, bool)> = sqlx::query_as(
            "SELECT access_token, refresh_token, expires_at > now() + interval '5 minutes' \
             FROM zalo_tokens",
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((token, _, true)) = &row
            && Some(token) != stale.as_ref()
        {
            return Ok(token.clone());
        }
        let refresh_token = row.map_or_else(
            || self.settings.refresh_token.expose_secret().to_owned(),
            |(_, refresh, _)| refresh,
        );
        let form = format!(
            "refresh_token={}&app_id={}&grant_type=refresh_token",
            form_encoded(&refresh_token),
            form_encoded(&self.settings.app_id)
        );
        let response = self
            .client
            .post(format!("{}/v4/oa/access_token", self.settings.oauth_url))
            .header("secret_key", self.settings.secret_key.expose_secret())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await?;
        let answer: TokenResponse = json_of(response).await.map_err(anyhow::Error::msg)?;
        let (Some(access), Some(refresh)) = (answer.access_token, answer.refresh_token) else {
            anyhow::bail!(
                "Zalo refused the refresh token (error {}: {})",
                answer.error.unwrap_or_default(),
                answer.error_description.unwrap_or_default()
            );
        };
        let seconds = match answer.expires_in {
            Some(serde_json::Value::String(text)) => text.parse().unwrap_or(3600.0),
            Some(serde_json::Value::Number(number)) => number.as_f64().unwrap_or(3600.0),
            _ => 3600.0,
        };
        sqlx::query(
            "INSERT INTO zalo_tokens (access_token, refresh_token, expires_at) \
             VALUES ($1, $2, now() + make_interval(secs => $3)) \
             ON CONFLICT (only_one) DO UPDATE SET access_token = $1, refresh_token = $2, \
             expires_at = now() + make_interval(secs => $3)",
        )
        .bind(&access)
        .bind(&refresh)
        .bind(seconds)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(access)
    }
}

/// `text` as a form value (`application/x-www-form-urlencoded`).
fn form_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded_but_for_the_unreserved_characters() {
        assert_eq!(form_encoded("abc-_.~09"), "abc-_.~09");
        assert_eq!(form_encoded("a+b/c=d&e f"), "a%2Bb%2Fc%3Dd%26e%20f");
    }
}
