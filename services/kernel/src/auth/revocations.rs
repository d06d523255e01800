//! Sign-ins that end before their access tokens expire. When an administrator
//! locks an account, or a role is revoked, every service refuses the account's
//! tokens issued before, within seconds: each follows identity's `AccountLocked`
//! and `RoleRevoked` events, from far enough back that a restarted service knows
//! every revocation a token still alive could predate.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use futures::StreamExt as _;
use lienlac_proto::identity::v2::{AccountLocked, RoleRevoked};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::{ServiceId, stream_name_in, subject_root_in};
use crate::outbox::header;

/// How far back revocations are followed: longer than any access token lives.
pub const LOOKBACK: Duration = Duration::from_secs(24 * 3600);

/// For each account whose sign-ins ended, when (Unix milliseconds).
#[derive(Debug, Clone, Default)]
pub struct Revocations(Arc<RwLock<HashMap<Uuid, i64>>>);

impl Revocations {
    /// Ends every sign-in of `account` made up to `at_ms`.
    pub fn revoke(&self, account: Uuid, at_ms: i64) {
        if let Ok(mut ended) = self.0.write() {
            let cutoff = unix_ms(OffsetDateTime::now_utc()) - LOOKBACK.as_millis() as i64;
            ended.retain(|_, at| *at >= cutoff);
            let at = ended.entry(account).or_insert(at_ms);
            *at = (*at).max(at_ms);
        }
    }

    /// Whether a token of `account` issued at `issued_ms` belongs to an ended
    /// sign-in.
    pub fn ended(&self, account: Uuid, issued_ms: i64) -> bool {
        self.0
            .read()
            .ok()
            .and_then(|ended| ended.get(&account).copied())
            .is_some_and(|at| issued_ms <= at)
    }
}

pub(crate) fn unix_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Follows identity's stream in `namespace` and records revocations until
/// `shutdown`; waits for the stream while identity has not created it yet.
pub async fn follow(
    jetstream: jetstream::Context,
    namespace: String,
    revocations: Revocations,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stream_name = stream_name_in(&namespace, ServiceId::IDENTITY);
    let root = subject_root_in(&namespace, ServiceId::IDENTITY);
    let mut backoff =
        crate::retry::Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    while !shutdown.is_cancelled() {
        let followed = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            followed = follow_once(&jetstream, &stream_name, &root, &revocations) => followed,
        };
        if let Err(error) = followed {
            tracing::warn!(error = ?error, stream = %stream_name, "following revocations; retrying");
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
    Ok(())
}

/// One pass: an ordered consumer per event kind, from [`LOOKBACK`] ago on.
async fn follow_once(
    jetstream: &jetstream::Context,
    stream_name: &str,
    root: &str,
    revocations: &Revocations,
) -> anyhow::Result<()> {
    let stream = jetstream.get_stream(stream_name).await?;
    let start_time = OffsetDateTime::now_utc() - LOOKBACK;
    let mut kinds = Vec::new();
    for name in ["AccountLocked", "RoleRevoked"] {
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: format!("{root}.*.*.{name}"),
                deliver_policy: DeliverPolicy::ByStartTime { start_time },
                ..Default::default()
            })
            .await?;
        kinds.push(consumer.messages().await?);
    }
    let mut messages = futures::stream::select_all(kinds);
    while let Some(message) = messages.next().await {
        let message = message?;
        if let Some((account, at_ms)) = revocation(&message.subject, &message) {
            revocations.revoke(account, at_ms);
        }
    }
    anyhow::bail!("the revocation stream ended")
}

/// The account whose sign-ins an event ends, and when; `None` for an event that
/// ends none (a lock after failed sign-ins keeps the owner's sessions, or a
/// stranger could sign anyone out by guessing).
fn revocation(subject: &str, message: &async_nats::Message) -> Option<(Uuid, i64)> {
    let at_ms = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(header::TIME))
        .and_then(|time| {
            OffsetDateTime::parse(
                time.as_str(),
                &time::format_description::well_known::Rfc3339,
            )
            .ok()
        })
        .map_or_else(|| unix_ms(OffsetDateTime::now_utc()), unix_ms);
    let account = if subject.ends_with(".AccountLocked") {
        let locked = <AccountLocked as prost::Message>::decode(message.payload.clone()).ok()?;
        if !locked.reason.starts_with("by_administrator") {
            return None;
        }
        locked.account_id
    } else {
        <RoleRevoked as prost::Message>::decode(message.payload.clone())
            .ok()?
            .account_id
    };
    Some((Uuid::parse_str(&account).ok()?, at_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_issued_up_to_the_revocation_are_refused_and_later_ones_accepted() {
        let revocations = Revocations::default();
        let (account, other) = (Uuid::now_v7(), Uuid::now_v7());
        let now = unix_ms(OffsetDateTime::now_utc());
        revocations.revoke(account, now);
        assert!(revocations.ended(account, now - 60_000));
        assert!(revocations.ended(account, now));
        assert!(!revocations.ended(account, now + 1));
        assert!(!revocations.ended(other, now - 60_000));
        // An older revocation read later does not undo a newer one.
        revocations.revoke(account, now - 120_000);
        assert!(revocations.ended(account, now));
    }
}
