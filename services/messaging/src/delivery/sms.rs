//! SMS through an HTTP provider, in the request shape of eSMS.vn's
//! `SendMultipleMessage_V4_post_json` (the provider Vietnamese schools commonly
//! use): a brandname SMS, Unicode, keyed by the delivery's id (`RequestId`), with
//! a callback for the handset's receipt. `CodeResult` "100" is accepted; "99"
//! (the provider's own error) and "103" (the account's balance ran out) are
//! tried again; any other code is a dead letter with the provider's message.

use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};

use super::Outgoing;
use super::outcome::{Outcome, json_of, retry_hint};
use super::rules::sms_segments;
use crate::config::SmsSettings;

#[derive(Clone)]
pub(crate) struct Sms {
    pub(crate) client: reqwest::Client,
    pub(crate) settings: SmsSettings,
    /// Where the provider reports each message's fate; none without a public URL.
    pub(crate) callback_url: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendRequest<'a> {
    api_key: &'a str,
    secret_key: &'a str,
    phone: &'a str,
    content: &'a str,
    brandname: &'a str,
    /// "2": customer care by brandname.
    sms_type: &'static str,
    is_unicode: &'static str,
    request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendResponse {
    code_result: String,
    #[serde(rename = "SMSID", default)]
    sms_id: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

impl Sms {
    /// What `text` costs: its parts at the provider's price per part.
    pub(crate) fn cost_of(&self, text: &str) -> i32 {
        sms_segments(text) as i32 * self.settings.price_vnd
    }

    /// Sends `text` to `phone` (E.164 without the plus), keyed by `request_id`.
    pub(crate) async fn send_text(&self, phone: &str, text: &str, request_id: String) -> Outcome {
        let request = SendRequest {
            api_key: &self.settings.api_key,
            secret_key: self.settings.secret_key.expose_secret(),
            phone,
            content: text,
            brandname: &self.settings.brandname,
            sms_type: "2",
            is_unicode: "1",
            request_id,
            callback_url: self.callback_url.as_deref(),
        };
        let response = match self
            .client
            .post(&self.settings.url)
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&request).unwrap_or_default())
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                return Outcome::retry(format!("the SMS provider did not answer: {error}"));
            }
        };
        let status = response.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Outcome::Retry {
                error: format!("the SMS provider answered {status}"),
                after: retry_hint(response.headers()),
            };
        }
        let answer: SendResponse = match json_of(response).await {
            Ok(answer) => answer,
            Err(error) => return Outcome::retry(error),
        };
        let said = || {
            format!(
                "CodeResult {}: {}",
                answer.code_result,
                answer.error_message.as_deref().unwrap_or("no message")
            )
        };
        match answer.code_result.as_str() {
            "100" => Outcome::Sent {
                provider_ref: answer.sms_id.clone(),
                cost_vnd: self.cost_of(text),
            },
            "99" | "103" => Outcome::retry(format!("the SMS provider failed ({})", said())),
            _ => Outcome::Failed(format!("the SMS provider refused it ({})", said())),
        }
    }

    pub(crate) async fn send(&self, message: &Outgoing) -> Outcome {
        let Some(phone) = &message.phone else {
            return Outcome::Failed("the guardian has no phone number".to_owned());
        };
        self.send_text(phone, &message.text, message.delivery.to_string())
            .await
    }
}
