//! One connected app: the events after its cursor, read from the store until it
//! has caught up, then from the feed (feed.rs), each turned into an update if it
//! is for this subscriber. Updates carry the commit place of their event, so a
//! reconnect resumes exactly after the last one received.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kernel::auth::Caller;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{CommitCursor, RecordedEvent, read_committed};
use kernel::write_model::Fact;
use lienlac_proto::messaging::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{broadcast, mpsc};
use tonic::Status;
use uuid::Uuid;

use super::feed::{BATCH, Feed};
use crate::conversations::{access, read};
use crate::write_model::kept;
use crate::{Ctx, announcements, notices, posts};
use school::peers::Reader;

/// How often an idle subscriber hears the cursor of now.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long the subscriber's list of conversations is trusted: the directory
/// (enrolments, guardianships, staff) changes through identity's events.
const MEMBERSHIP_TTL: Duration = Duration::from_secs(30);
/// How long one stream lasts: then the app reconnects from its last cursor with a
/// token that is still good, so a revoked role or a locked account stops
/// receiving within this time.
const STREAM_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How far behind now a cursor may be (events of the whole store): further back,
/// the app reloads through the lists and subscribes from now.
const MAX_REPLAY: i64 = 100_000;

pub(crate) type Updates = mpsc::Receiver<Result<pb::Update, Status>>;

/// `cursor` as updates carry it: the commit place of their event.
pub(crate) fn encode(cursor: CommitCursor) -> String {
    format!("{}-{}", cursor.tx_id, cursor.position)
}

pub(crate) fn decode(text: &str) -> AppResult<CommitCursor> {
    text.split_once('-')
        .and_then(|(tx_id, position)| {
            Some(CommitCursor {
                tx_id: tx_id.parse().ok()?,
                position: position.parse().ok()?,
            })
        })
        .filter(|cursor| cursor.tx_id >= 0 && cursor.position >= 0)
        .ok_or_else(|| Status::invalid_argument("cursor: not one this service gave").into())
}

/// The caller's updates after `from` (now when `None`), until they hang up, the
/// stream's lifetime ends or the service stops. A cursor this service cannot have
/// given (ahead of what is committed) is INVALID_ARGUMENT; one too far behind,
/// OUT_OF_RANGE.
pub(crate) async fn subscribe(
    ctx: Ctx,
    feed: Arc<Feed>,
    caller: Caller,
    reader: Reader,
    from: Option<CommitCursor>,
) -> AppResult<Updates> {
    if let Some(from) = from {
        let head = super::feed::committed_head(&ctx.pool).await?;
        if from > head {
            return Err(Status::invalid_argument("cursor: not one this service gave").into());
        }
        if head.position - from.position > MAX_REPLAY {
            return Err(Status::out_of_range(
                "cursor: too far behind; reload the inbox and lists, then subscribe from now",
            )
            .into());
        }
    }
    let slot = feed.streams.admit(caller.account_id).ok_or_else(|| {
        Status::resource_exhausted(format!(
            "this account already has {} live streams open; close one first",
            super::streams::MAX_PER_ACCOUNT
        ))
    })?;
    let (sender, updates) = mpsc::channel(64);
    tokio::spawn(async move {
        // Held while the stream lasts.
        let _slot = slot;
        let (events, head) = feed.subscribe();
        let mut subscriber = Subscriber {
            ctx,
            caller,
            reader,
            conversations: HashSet::new(),
            loaded_at: None,
            sender,
        };
        let after = from.unwrap_or(head);
        if let Err(error) = subscriber.follow(&feed, events, after).await {
            let status = Status::from(error);
            let _ = subscriber.sender.send(Err(status)).await;
        }
    });
    Ok(updates)
}

struct Subscriber {
    ctx: Ctx,
    caller: Caller,
    /// The subscriber's token, to ask identity for the names in their notices.
    reader: Reader,
    /// The conversations the subscriber is in, as of `loaded_at`.
    conversations: HashSet<Uuid>,
    loaded_at: Option<Instant>,
    sender: mpsc::Sender<Result<pb::Update, Status>>,
}

/// The subscriber hung up: stop quietly.
struct Gone;

/// Whether an event has just happened (from the feed), or is read back from the
/// store: a replayed message may have been edited or deleted since, so its update
/// comes from the message as it is now, never from the text its event kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    Live,
    Replayed,
}

impl Subscriber {
    async fn follow(
        &mut self,
        feed: &Feed,
        mut events: broadcast::Receiver<Arc<RecordedEvent>>,
        mut after: CommitCursor,
    ) -> AppResult<()> {
        let heartbeat = pb::update::Item::Heartbeat(pb::Heartbeat {});
        if self.send(after, heartbeat.clone()).await.is_err() {
            return Ok(());
        }
        if self.catch_up(&mut after).await?.is_err() {
            return Ok(());
        }
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
        let end = tokio::time::sleep(STREAM_LIFETIME);
        tokio::pin!(end);
        loop {
            let sent = tokio::select! {
                () = feed.shutdown.cancelled() => return Ok(()),
                () = &mut end => return Ok(()),
                () = self.sender.closed() => return Ok(()),
                _ = beat.tick() => self.send(after, heartbeat.clone()).await,
                received = events.recv() => match received {
                    Ok(event) => {
                        let at = CommitCursor::of(&event);
                        if at <= after {
                            continue;
                        }
                        after = at;
                        self.deliver(&event, at, Freshness::Live).await?
                    }
                    // Fell behind the feed: read the store from the last update on.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up(&mut after).await?,
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            };
            if sent.is_err() {
                return Ok(());
            }
        }
    }

    /// Reads the store after `after` until less than a batch is left.
    async fn catch_up(&mut self, after: &mut CommitCursor) -> AppResult<Result<(), Gone>> {
        loop {
            let batch = {
                let mut conn = self.ctx.pool.acquire().await?;
                read_committed(&mut conn, *after, BATCH, false).await?
            };
            let full = batch.len() as i64 == BATCH;
            for event in batch {
                *after = CommitCursor::of(&event);
                if self
                    .deliver(&event, *after, Freshness::Replayed)
                    .await?
                    .is_err()
                {
                    return Ok(Err(Gone));
                }
            }
            if !full {
                return Ok(Ok(()));
            }
        }
    }

    async fn send(&self, at: CommitCursor, item: pb::update::Item) -> Result<(), Gone> {
        let update = pb::Update {
            cursor: encode(at),
            item: Some(item),
        };
        self.sender.send(Ok(update)).await.map_err(|_| Gone)
    }

    /// Sends the update `event` makes for this subscriber, if any.
    async fn deliver(
        &mut self,
        event: &RecordedEvent,
        at: CommitCursor,
        freshness: Freshness,
    ) -> AppResult<Result<(), Gone>> {
        let item = match self.item(event, freshness).await? {
            Some(item) => item,
            None => return Ok(Ok(())),
        };
        Ok(self.send(at, item).await)
    }

    async fn item(
        &mut self,
        event: &RecordedEvent,
        freshness: Freshness,
    ) -> AppResult<Option<pb::update::Item>> {
        let fact = Fact::of(event);
        let unreadable = |error: anyhow::Error| AppError::Unexpected(error);
        let Some(person) = self.caller.person_id else {
            return Ok(None);
        };
        match event.event_type.as_str() {
            "DirectThreadStarted" => {
                let started: pb::DirectThreadStarted = fact.decode().map_err(unreadable)?;
                if started.participant_ids.contains(&person.to_string()) {
                    self.conversations.insert(uuid(&started.conversation_id)?);
                }
                Ok(None)
            }
            "MessagePosted" => {
                let posted: pb::MessagePosted = fact.decode().map_err(unreadable)?;
                if !self.is_in(person, uuid(&posted.conversation_id)?).await? {
                    return Ok(None);
                }
                if freshness == Freshness::Replayed || !posted.attachment_ids.is_empty() {
                    let mut conn = self.ctx.pool.acquire().await?;
                    let message = read::message(&mut conn, uuid(&posted.message_id)?).await?;
                    return Ok(Some(pb::update::Item::Message(message)));
                }
                // Just posted: the stored event holds the whole message, no query
                // for the commonest update.
                let body: String = fact.required(kept::BODY).map_err(unreadable)?;
                Ok(Some(pb::update::Item::Message(pb::Message {
                    id: posted.message_id,
                    conversation_id: posted.conversation_id,
                    seq: posted.seq,
                    author_account_id: posted.author_account_id,
                    author_person_id: posted.author_person_id,
                    body,
                    reply_to: posted.reply_to,
                    posted_at: kernel::dates::rfc3339(event.recorded_at),
                    edited_at: String::new(),
                    deleted_at: String::new(),
                    attachments: Vec::new(),
                    author_display_name: String::new(),
                    author_is_staff: false,
                })))
            }
            "MessageEdited" | "MessageDeleted" => {
                let named: MessageNamed = fact.decode().map_err(unreadable)?;
                if !self.is_in(person, uuid(&named.conversation_id)?).await? {
                    return Ok(None);
                }
                let mut conn = self.ctx.pool.acquire().await?;
                let message = read::message(&mut conn, uuid(&named.message_id)?).await?;
                Ok(Some(pb::update::Item::Message(message)))
            }
            // Shown at once when published, or at its time (AnnouncementShown).
            "AnnouncementPublished" | "AnnouncementShown" => {
                let id = if event.event_type == "AnnouncementShown" {
                    let shown: pb::AnnouncementShown = fact.decode().map_err(unreadable)?;
                    shown.announcement_id
                } else {
                    let published: pb::AnnouncementPublished = fact.decode().map_err(unreadable)?;
                    let shown_later = OffsetDateTime::parse(&published.visible_at, &Rfc3339)
                        .is_ok_and(|visible_at| visible_at > event.recorded_at);
                    if shown_later {
                        // Its AnnouncementShown delivers it, once, replayed or not.
                        return Ok(None);
                    }
                    published.announcement_id
                };
                let mut conn = self.ctx.pool.acquire().await?;
                let received = announcements::received(&mut conn, uuid(&id)?, person).await?;
                Ok(received.map(pb::update::Item::Announcement))
            }
            "AbsenceNoticeRaised" | "AbsenceNoticeCorrected" => {
                let (notice, guardian) = if event.event_type == "AbsenceNoticeRaised" {
                    let raised: pb::AbsenceNoticeRaised = fact.decode().map_err(unreadable)?;
                    (raised.notice_id, raised.guardian_id)
                } else {
                    let corrected: pb::AbsenceNoticeCorrected =
                        fact.decode().map_err(unreadable)?;
                    (corrected.notice_id, corrected.guardian_id)
                };
                if uuid(&guardian)? != person {
                    return Ok(None);
                }
                let notice = notices::one(&self.ctx, &self.reader, person, uuid(&notice)?).await?;
                Ok(notice.map(pb::update::Item::Notice))
            }
            "PostApproved" => {
                let approved: pb::PostApproved = fact.decode().map_err(unreadable)?;
                match posts::read::get(&self.ctx, &self.caller, uuid(&approved.post_id)?).await {
                    Ok(post) => Ok(Some(pb::update::Item::Post(post))),
                    Err(AppError::Status(status))
                        if status.code() == tonic::Code::PermissionDenied =>
                    {
                        Ok(None)
                    }
                    Err(error) => Err(error),
                }
            }
            _ => Ok(None),
        }
    }

    /// Whether the subscriber is in `conversation`, from their list of
    /// conversations, loaded again once it is older than [`MEMBERSHIP_TTL`].
    async fn is_in(&mut self, person: Uuid, conversation: Uuid) -> AppResult<bool> {
        if self
            .loaded_at
            .is_none_or(|at| at.elapsed() > MEMBERSHIP_TTL)
        {
            let sql = format!(
                "SELECT mine.id FROM ({}) AS mine (id, kind, school_id, class_id)",
                access::MINE
            );
            let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(person)
                .bind(access::led_schools(&self.caller))
                .fetch_all(&self.ctx.pool)
                .await?;
            self.conversations = ids.into_iter().collect();
            self.loaded_at = Some(Instant::now());
        }
        Ok(self.conversations.contains(&conversation))
    }
}

/// What an edit or a deletion names: its message and conversation.
#[derive(serde::Deserialize)]
struct MessageNamed {
    message_id: String,
    conversation_id: String,
}

fn uuid(text: &str) -> AppResult<Uuid> {
    text.parse()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("an event with a malformed id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_was_and_a_made_up_one_is_refused() {
        let cursor = CommitCursor {
            tx_id: 81_234,
            position: 17,
        };
        assert_eq!(decode(&encode(cursor)).unwrap(), cursor);
        for made_up in ["", "12", "x-y", "-1-2", "1-", "1.2"] {
            assert!(decode(made_up).is_err(), "{made_up}");
        }
    }
}
