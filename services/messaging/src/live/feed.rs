//! One reader of messaging's event store per replica, in commit order
//! (kernel/src/event_store/read.rs), handing every event to the connected
//! subscribers (subscriber.rs): a thousand open apps cost one query every 20 ms,
//! not a thousand.

use std::sync::Arc;
use std::time::Duration;

use kernel::event_store::{CommitCursor, RecordedEvent, read_committed};
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Events read per query.
pub(crate) const BATCH: i64 = 500;
/// How often the feed looks for new events.
const POLL: Duration = Duration::from_millis(20);
/// Events a subscriber may fall behind before it reads the store itself.
const BUFFER: usize = 4_096;

pub(crate) struct Feed {
    events: broadcast::Sender<Arc<RecordedEvent>>,
    head: watch::Receiver<CommitCursor>,
    pub(crate) shutdown: CancellationToken,
    /// The streams open on this replica, per account.
    pub(crate) streams: Arc<super::streams::Streams>,
}

impl Feed {
    /// Starts reading after the last event committed now.
    pub(crate) async fn start(
        pool: PgPool,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let head = committed_head(&pool).await?;
        let (events, _) = broadcast::channel(BUFFER);
        let (head_tx, head_rx) = watch::channel(head);
        tokio::spawn(run(pool, events.clone(), head_tx, head, shutdown.clone()));
        Ok(Arc::new(Self {
            events,
            head: head_rx,
            shutdown,
            streams: Arc::default(),
        }))
    }

    /// The events from now on, and where the feed was when they start: every
    /// event after that place either comes on the receiver or is still to be read.
    pub(crate) fn subscribe(&self) -> (broadcast::Receiver<Arc<RecordedEvent>>, CommitCursor) {
        let receiver = self.events.subscribe();
        (receiver, *self.head.borrow())
    }
}

/// The place of the last event every reader in commit order can see now.
pub(crate) async fn committed_head(pool: &PgPool) -> anyhow::Result<CommitCursor> {
    let head: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx_id, position FROM events \
         WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint \
         ORDER BY tx_id DESC, position DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(
        head.map_or(CommitCursor::START, |(tx_id, position)| CommitCursor {
            tx_id,
            position,
        }),
    )
}

async fn run(
    pool: PgPool,
    events: broadcast::Sender<Arc<RecordedEvent>>,
    head: watch::Sender<CommitCursor>,
    mut after: CommitCursor,
    shutdown: CancellationToken,
) {
    // The feed keeps its own connection: it must not queue for one behind commands
    // that hold theirs while they wait on a conversation's lock.
    let mut conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>> = None;
    while !shutdown.is_cancelled() {
        let read = async {
            let conn = match &mut conn {
                Some(conn) => conn,
                None => conn.insert(pool.acquire().await?),
            };
            read_committed(conn, after, BATCH, false).await
        }
        .await;
        if read.is_err() {
            conn = None;
        }
        let pause = match read {
            Ok(batch) => {
                let full = batch.len() as i64 == BATCH;
                for event in batch {
                    after = CommitCursor::of(&event);
                    // No subscriber connected is no error.
                    let _ = events.send(Arc::new(event));
                }
                head.send_replace(after);
                if full { Duration::ZERO } else { POLL }
            }
            Err(error) => {
                tracing::warn!(error = ?error, "the live feed could not read the event store; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}
