//! What an attempt to send got back from a channel's provider.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The provider took it: its id for the message (which its receipts name) and
    /// what it charges, in đồng.
    Sent {
        provider_ref: Option<String>,
        cost_vnd: i32,
    },
    /// Try again later (the provider was down, busy or slow), after its hint.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// It will never go through this way (a refused number, a bad request): a
    /// dead letter with the provider's reason.
    Failed(String),
    /// The address no longer exists (an expired push subscription).
    Gone,
}

impl Outcome {
    pub(crate) fn retry(error: String) -> Self {
        Self::Retry { error, after: None }
    }

    /// The better of two addresses' outcomes: sent beats retry beats failed; of
    /// two alike, the later (a provider's answer over the placeholder it follows).
    pub(crate) fn or(self, other: Outcome) -> Outcome {
        fn rank(outcome: &Outcome) -> u8 {
            match outcome {
                Outcome::Sent { .. } => 3,
                Outcome::Retry { .. } => 2,
                Outcome::Failed(_) => 1,
                Outcome::Gone => 0,
            }
        }
        if rank(&other) >= rank(&self) {
            other
        } else {
            self
        }
    }
}

/// A `Retry-After` header in seconds, if the provider sent one.
pub(crate) fn retry_hint(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A provider's JSON answer, read whole whatever its `Content-Type`; what it
/// said instead when it is not the expected shape.
pub(crate) async fn json_of<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, String> {
    let bytes = response
        .bytes()
        .await
        .map_err(|error| format!("the provider's answer was cut: {error}"))?;
    serde_json::from_slice(&bytes).map_err(|error| {
        format!(
            "the provider answered something unexpected ({error}): {}",
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(200)
                .collect::<String>()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_several_addresses_the_best_outcome_stands_and_a_real_answer_beats_a_placeholder() {
        let sent = || Outcome::Sent {
            provider_ref: None,
            cost_vnd: 0,
        };
        let placeholder = || Outcome::Failed("no address".to_owned());
        let refused = || Outcome::Failed("550".to_owned());
        assert_eq!(placeholder().or(refused()), refused());
        assert_eq!(placeholder().or(Outcome::Gone), placeholder());
        assert_eq!(sent().or(refused()), sent());
        assert_eq!(
            refused().or(Outcome::retry("busy".to_owned())),
            Outcome::retry("busy".to_owned())
        );
        assert_eq!(Outcome::retry("busy".to_owned()).or(sent()), sent());
    }
}
