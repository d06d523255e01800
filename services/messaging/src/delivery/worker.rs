//! One loop per channel sends the deliveries that are due: claims a batch (a
//! lease, so another replica takes what a dead one left), skips those no longer
//! needed, names the children with the service's own token, sends at the
//! channel's pace and records each outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use school::service_identity::ServiceIdentity;
use sqlx::PgPool;
use time::Date;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::compose::{self, About};
use super::email::Email;
use super::outcome::Outcome;
use super::push::Push;
use super::rules::{self, Channel};
use super::sms::Sms;
use super::webhooks::phone_hash;
use super::zalo::Zalo;
use super::{Kind, Outgoing};
use crate::attachments::links::LinkKey;
use crate::periodic;

/// Deliveries claimed at a time.
const BATCH: i64 = 200;
/// How long a claimed delivery is left to its replica before another may take it.
const LEASE: Duration = Duration::from_secs(120);
/// Sends under way at once on one channel.
const CONCURRENCY: usize = 8;

/// A channel's provider.
#[derive(Clone)]
pub(crate) enum Sender {
    Push(Push),
    Email(Email),
    Sms(Sms),
    Zalo(Zalo),
}

impl Sender {
    pub(crate) fn channel(&self) -> Channel {
        match self {
            Sender::Push(_) => Channel::Push,
            Sender::Email(_) => Channel::Email,
            Sender::Sms(_) => Channel::Sms,
            Sender::Zalo(_) => Channel::Zalo,
        }
    }

    async fn send(&self, message: &Outgoing) -> Outcome {
        match self {
            Sender::Push(push) => push.send(message).await,
            Sender::Email(email) => email.send(message).await,
            Sender::Sms(sms) => sms.send(message).await,
            Sender::Zalo(zalo) => zalo.send(message).await,
        }
    }
}

pub(crate) struct Worker {
    pub(crate) pool: PgPool,
    pub(crate) identity: tonic::transport::Channel,
    pub(crate) service: Arc<ServiceIdentity>,
    /// What a phone number sent to is kept as (webhooks.rs).
    pub(crate) phone_key: LinkKey,
    pub(crate) sender: Sender,
    /// The most sends a second on this channel (the provider's limit).
    pub(crate) per_second: u32,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    notice_id: Uuid,
    recipient_id: Uuid,
    fallback: bool,
    attempts: i32,
    kind: i16,
    digest: bool,
    student_id: Option<Uuid>,
    class_name: Option<String>,
    date: Option<Date>,
    session: Option<i16>,
    status: Option<i16>,
    follow_up: bool,
    title: Option<String>,
    body: Option<String>,
    emergency: bool,
    /// Gone, or withdrawn (an absence notice corrected before anything went out).
    withdrawn: bool,
    stopped: bool,
    read_in_app: bool,
    delivered_by_paid: bool,
}

impl Claimed {
    fn about(&self) -> Option<About> {
        if self.kind == Kind::Announcement as i16 {
            return Some(About::Announcement {
                title: self.title.clone()?,
                body: self.body.clone()?,
                emergency: self.emergency,
            });
        }
        Some(About::AbsenceNotice {
            student: self.student_id?,
            class: self.class_name.clone().unwrap_or_default(),
            date: self.date?,
            session: self.session?,
            status: self.status?,
            follow_up: self.follow_up,
        })
    }
}

/// The deliveries claimed at once, loaded with what they are about.
const CLAIM: &str = "WITH claimed AS ( \
        UPDATE deliveries d SET due_at = now() + make_interval(secs => $3) \
        WHERE d.id IN (SELECT id FROM deliveries WHERE channel = $1 AND state = 'queued' \
            AND due_at <= now() ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
        RETURNING d.id, d.notice_id, d.recipient_id, d.fallback, d.attempts, d.kind, d.digest) \
    SELECT c.id, c.notice_id, c.recipient_id, c.fallback, c.attempts, c.kind, c.digest, \
        n.student_id, cl.name AS class_name, n.date, n.session, n.status, \
        coalesce(n.follows IS NOT NULL, false) AS follow_up, \
        a.title, a.body, coalesce(a.emergency, false) AS emergency, \
        (n.id IS NULL AND a.id IS NULL) OR n.withdrawn_at IS NOT NULL AS withdrawn, \
        coalesce(n.read_at, r.read_at) IS NOT NULL AS read_in_app, \
        EXISTS (SELECT 1 FROM channel_stops s WHERE s.person_id = c.recipient_id \
            AND s.channel = $1) AS stopped, \
        EXISTS (SELECT 1 FROM deliveries o WHERE o.notice_id = c.notice_id \
            AND o.recipient_id = c.recipient_id AND o.channel IN (3, 4) \
            AND o.state IN ('delivered', 'read')) AS delivered_by_paid \
    FROM claimed c \
    LEFT JOIN absence_notices n ON c.kind = 1 AND n.id = c.notice_id \
    LEFT JOIN classes cl ON cl.id = n.class_id \
    LEFT JOIN announcements a ON c.kind = 2 AND a.id = c.notice_id \
    LEFT JOIN announcement_recipients r ON c.kind = 2 AND r.announcement_id = c.notice_id \
        AND r.guardian_id = c.recipient_id";

/// Sends `worker`'s channel's due deliveries every `every` until `shutdown`.
pub(crate) async fn run(worker: Worker, every: Duration, shutdown: CancellationToken) {
    let worker = &worker;
    periodic::in_batches("deliveries", every, BATCH, shutdown, || worker.batch()).await;
}

/// Deliveries sent as one message (a day's digest to one recipient, or one
/// delivery alone), and the message; none when it cannot be made.
type Group = (Vec<Claimed>, Option<Outgoing>);

impl Worker {
    async fn batch(&self) -> anyhow::Result<i64> {
        let channel = self.sender.channel();
        let claimed: Vec<Claimed> = sqlx::query_as(CLAIM)
            .bind(channel as i16)
            .bind(BATCH)
            .bind(LEASE.as_secs_f64())
            .fetch_all(&self.pool)
            .await?;
        let count = claimed.len() as i64;
        if claimed.is_empty() {
            return Ok(0);
        }
        let (due, not_needed): (Vec<Claimed>, Vec<Claimed>) = claimed.into_iter().partition(|c| {
            rules::still_needed(
                c.fallback,
                rules::Since {
                    withdrawn: c.withdrawn,
                    stopped: c.stopped,
                    read_in_app: c.read_in_app,
                    delivered_by_paid: c.delivered_by_paid,
                },
            )
        });
        let skipped: Vec<Uuid> = not_needed.iter().map(|c| c.id).collect();
        if !skipped.is_empty() {
            self.finish(&skipped, "skipped", None, None).await?;
        }
        if due.is_empty() {
            return Ok(count);
        }
        let groups = self.compose(channel, due).await?;
        // The channel's pace: the i-th send of the batch starts no sooner than
        // i intervals after the first.
        let gap = Duration::from_secs(1) / self.per_second.max(1);
        let start = tokio::time::Instant::now();
        let outcomes: Vec<anyhow::Result<()>> =
            futures::stream::iter(groups.into_iter().enumerate())
                .map(|(i, (claimed, message))| async move {
                    let outcome = match &message {
                        None => Outcome::Failed(
                            "the child's name is no longer known (erased)".to_owned(),
                        ),
                        Some(message) if channel.paid() && message.phone.is_none() => {
                            Outcome::Failed("the guardian has no phone number".to_owned())
                        }
                        Some(message) => {
                            tokio::time::sleep_until(start + gap * i as u32).await;
                            self.sender.send(message).await
                        }
                    };
                    // Recorded as soon as it is sent: a replica that dies mid-batch
                    // leaves only its sends in flight for another to send again.
                    let phone_hash = message
                        .and_then(|message| message.phone)
                        .map(|phone| phone_hash(&self.phone_key, &phone));
                    for one in &claimed {
                        self.record(one, phone_hash.clone(), outcome.clone())
                            .await?;
                    }
                    anyhow::Ok(())
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        outcomes.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(count)
    }

    /// The messages of `due`: children named with the service's own token, phone
    /// numbers for a paid channel, a recipient's digest rows as one message.
    async fn compose(&self, channel: Channel, due: Vec<Claimed>) -> anyhow::Result<Vec<Group>> {
        let mut children: Vec<Uuid> = due.iter().filter_map(|c| c.student_id).collect();
        children.sort_unstable();
        children.dedup();
        let needs_identity = !children.is_empty() || channel.paid();
        let reader = if needs_identity {
            Some(self.service.reader().await?)
        } else {
            None
        };
        let directory = school::peers::directory(&self.identity);
        let names = match &reader {
            Some(reader) if !children.is_empty() => {
                school::names::names_of(directory.clone(), reader, &children).await?
            }
            _ => HashMap::new(),
        };
        let phones = match &reader {
            Some(reader) if channel.paid() => {
                let recipients: Vec<Uuid> = due.iter().map(|c| c.recipient_id).collect();
                school::names::phones_of(directory, reader, &recipients).await?
            }
            _ => HashMap::new(),
        };
        let (digests, singles): (Vec<Claimed>, Vec<Claimed>) =
            due.into_iter().partition(|c| c.digest);
        let mut groups: Vec<Group> = singles
            .into_iter()
            .map(|claimed| {
                let message = claimed.about().and_then(|about| {
                    compose::one(
                        &about,
                        claimed.id,
                        claimed.notice_id,
                        claimed.recipient_id,
                        phones.get(&claimed.recipient_id).cloned(),
                        &names,
                    )
                });
                (vec![claimed], message)
            })
            .collect();
        let mut by_recipient: HashMap<Uuid, Vec<Claimed>> = HashMap::new();
        for claimed in digests {
            by_recipient
                .entry(claimed.recipient_id)
                .or_default()
                .push(claimed);
        }
        for (recipient, claimed) in by_recipient {
            let titles: Vec<&str> = claimed.iter().filter_map(|c| c.title.as_deref()).collect();
            let message = compose::digest(claimed[0].id, recipient, &titles);
            groups.push((claimed, Some(message)));
        }
        Ok(groups)
    }

    /// Records what sending `claimed` (to the phone kept as `phone_hash`) got.
    async fn record(
        &self,
        claimed: &Claimed,
        phone_hash: Option<Vec<u8>>,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        let attempts = claimed.attempts + 1;
        match outcome {
            Outcome::Sent {
                provider_ref,
                cost_vnd,
            } => {
                sqlx::query(
                    // A receipt that came first (webhooks.rs) keeps its state.
                    "UPDATE deliveries SET sent_at = now(), attempts = $2, \
                     state = CASE WHEN state = 'queued' THEN 'sent' ELSE state END, \
                     provider_ref = coalesce($3, provider_ref), cost_vnd = $4, phone_hash = $5, \
                     last_error = NULL WHERE id = $1",
                )
                .bind(claimed.id)
                .bind(attempts)
                .bind(provider_ref)
                .bind(cost_vnd)
                .bind(phone_hash)
                .execute(&self.pool)
                .await?;
            }
            Outcome::Retry { error, after } => match rules::retry_after(attempts, after) {
                Some(after) => {
                    sqlx::query(
                        "UPDATE deliveries SET attempts = $2, last_error = $3, \
                         due_at = now() + make_interval(secs => $4) WHERE id = $1",
                    )
                    .bind(claimed.id)
                    .bind(attempts)
                    .bind(error)
                    .bind(after.as_secs_f64())
                    .execute(&self.pool)
                    .await?;
                }
                None => self.fail(claimed.id, attempts, &error).await?,
            },
            Outcome::Failed(error) => self.fail(claimed.id, attempts, &error).await?,
            Outcome::Gone => {
                self.fail(claimed.id, attempts, "the address no longer exists")
                    .await?
            }
        }
        Ok(())
    }

    /// A dead letter: the delivery failed for good, with the provider's reason.
    async fn fail(&self, id: Uuid, attempts: i32, error: &str) -> anyhow::Result<()> {
        tracing::warn!(delivery = %id, channel = self.sender.channel().name(), attempts, "a delivery failed for good");
        self.finish(&[id], "failed", Some(error), Some(attempts))
            .await
    }

    /// Ends the deliveries `ids` in `state` (skipped, failed), with the last
    /// answer and the attempts made where there are some.
    async fn finish(
        &self,
        ids: &[Uuid],
        state: &str,
        error: Option<&str>,
        attempts: Option<i32>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE deliveries SET state = $2, finished_at = now(), \
             last_error = coalesce($3, last_error), attempts = coalesce($4, attempts) \
             WHERE id = ANY($1)",
        )
        .bind(ids)
        .bind(state)
        .bind(error)
        .bind(attempts)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
