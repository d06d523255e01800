//! The consumer runtime against real Postgres and JetStream: exactly-once effect
//! under redelivery, dead letters, gaps, malformed messages and rebuilds.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream;
use kernel::config::{KernelConfig, ServiceId};
use kernel::consumer::{
    ConsumerRuntime, ConsumerSource, REPLAY_WRITERS, create_consumer_after, replay,
    reset_projection,
};
use kernel::event_store::{EventMeta, ExpectedVersion, append, stream_version};
use kernel::outbox::{Relay, RelayConfig, ensure_stream};
use kernel::testing::{TestWorld, eventually};
use lienlac_proto::testing::v1::Noted;
use prost::Message as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use common::{MIGRATIONS, NotesProjection, noted};

/// Identity publishes; attendance consumes into its own schema.
/// Identity's stream and subjects, carrying the test contract `lienlac.testing.v1`.
const PUBLISHER: ServiceId = ServiceId::IDENTITY.with_contract("v1");
const CONSUMER: ServiceId = ServiceId::ATTENDANCE;

struct Setup {
    world: TestWorld,
    publisher: KernelConfig,
    consumer: KernelConfig,
    source_pool: PgPool,
    pool: PgPool,
    jetstream: jetstream::Context,
}

async fn setup() -> Setup {
    let world = TestWorld::new();
    let publisher = world.config(PUBLISHER);
    let consumer = world.config(CONSUMER);
    let source_pool = world.pool(PUBLISHER, &MIGRATIONS).await;
    let pool = world.pool(CONSUMER, &MIGRATIONS).await;
    let jetstream = world.jetstream().await;
    ensure_stream(&jetstream, &publisher).await.unwrap();
    Setup {
        world,
        publisher,
        consumer,
        source_pool,
        pool,
        jetstream,
    }
}

impl Setup {
    /// Appends one note per text to `stream_id` and publishes them.
    async fn publish_notes(&self, stream_id: &str, texts: &[&str]) {
        let mut conn = self.source_pool.acquire().await.unwrap();
        for text in texts {
            let version = stream_version(&mut conn, stream_id).await.unwrap();
            append(
                &mut conn,
                stream_id,
                ExpectedVersion::from_loaded(version),
                &[noted(stream_id, text)],
                &EventMeta::default(),
            )
            .await
            .unwrap();
        }
        Relay::new(
            self.source_pool.clone(),
            self.jetstream.clone(),
            RelayConfig::from_kernel(&self.publisher),
        )
        .flush()
        .await
        .unwrap();
    }

    /// Publishes a note straight to JetStream with the given `ce-sequence`.
    async fn publish_raw(&self, stream_id: &str, sequence: i64, text: &str) {
        let mut headers = async_nats::HeaderMap::new();
        let id = Uuid::now_v7().to_string();
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-id", id.as_str());
        headers.insert("ce-source", "/lienlac/identity/_");
        headers.insert("ce-type", "lienlac.testing.v1.Noted");
        headers.insert("ce-time", "2026-11-28T07:00:00Z");
        headers.insert("ce-subject", stream_id);
        headers.insert("ce-sequence", sequence.to_string().as_str());
        let payload = Noted {
            stream_id: stream_id.to_owned(),
            text: text.to_owned(),
        }
        .encode_to_vec();
        let subject = format!("{}._._.Noted", self.publisher.subject_root());
        self.jetstream
            .publish_with_headers(subject, headers, payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Publishes a note on this stream's subjects that says it comes from another
    /// service.
    async fn publish_as_another_service(&self) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-id", Uuid::now_v7().to_string().as_str());
        headers.insert("ce-source", "/lienlac/attendance/_");
        headers.insert("ce-type", "lienlac.testing.v1.Noted");
        headers.insert("ce-time", "2026-11-28T07:00:00Z");
        headers.insert("ce-subject", "student-forged");
        headers.insert("ce-sequence", "1");
        let payload = Noted {
            stream_id: "student-forged".to_owned(),
            text: "forged".to_owned(),
        }
        .encode_to_vec();
        self.jetstream
            .publish_with_headers(
                format!("{}._._.Noted", self.publisher.subject_root()),
                headers,
                payload.into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Publishes a message that is no event: no CloudEvents headers at all.
    async fn publish_without_headers(&self) {
        self.jetstream
            .publish(
                format!("{}._._.Noted", self.publisher.subject_root()),
                "not an event".into(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn start(
        &self,
        projection: Arc<NotesProjection>,
    ) -> (
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        self.start_with(projection, self.consumer.consumer.clone())
            .await
    }

    async fn start_with(
        &self,
        projection: Arc<NotesProjection>,
        settings: kernel::config::ConsumerSettings,
    ) -> (
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        // A pool and a NATS connection of its own, as a replica in its own process
        // has: an aborted replica's transaction and pull requests end with them.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy_with((*self.pool.connect_options()).clone());
        let runtime = ConsumerRuntime::new(
            pool,
            self.world.jetstream().await,
            projection,
            self.source(),
            settings,
        );
        let stop = CancellationToken::new();
        (stop.clone(), tokio::spawn(runtime.run(stop)))
    }

    /// Projects one bad message and then a good note, and returns the errors of
    /// the dead letters.
    async fn dead_letters_after(
        &self,
        publish_bad: impl std::future::Future<Output = ()>,
    ) -> Vec<String> {
        let (stop, task) = self
            .start(Arc::new(NotesProjection::new("attendance-notes")))
            .await;
        publish_bad.await;
        self.publish_notes("student-after", &["after"]).await;
        self.wait_for_notes(1).await;
        self.wait_until_drained("attendance-notes").await;
        stop.cancel();
        task.await.unwrap().unwrap();
        self.dead_letter_errors().await
    }

    /// Waits until the notes are `texts`, and fails unless they came in that
    /// order, each once.
    async fn wait_for_texts_in_order(&self, what: &str, within: Duration, texts: &[&str]) {
        let notes = eventually(what, within, || async {
            let notes = self.notes().await;
            (notes.len() == texts.len()).then_some(notes)
        })
        .await;
        let seen: Vec<&str> = notes.iter().map(|(text, _)| text.as_str()).collect();
        assert_eq!(seen, texts, "in order, once");
    }

    fn source(&self) -> ConsumerSource {
        ConsumerSource::all_of(&self.world.namespace, PUBLISHER)
    }

    /// The errors of the dead-lettered events, oldest first.
    async fn dead_letter_errors(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT error FROM dead_letters ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    async fn notes(&self) -> Vec<(String, i64)> {
        sqlx::query_as("SELECT text, sequence FROM notes ORDER BY applied")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    async fn wait_for_notes(&self, count: usize) -> Vec<(String, i64)> {
        eventually(
            &format!("{count} notes projected"),
            Duration::from_secs(20),
            || async {
                let notes = self.notes().await;
                (notes.len() >= count).then_some(notes)
            },
        )
        .await
    }

    /// Waits until the durable consumer has nothing pending or unacknowledged.
    async fn wait_until_drained(&self, name: &str) {
        let stream = self
            .jetstream
            .get_stream(self.source().stream)
            .await
            .unwrap();
        eventually("consumer drained", Duration::from_secs(20), || {
            let stream = stream.clone();
            async move {
                let mut consumer: jetstream::consumer::PullConsumer =
                    stream.get_consumer(name).await.ok()?;
                let info = consumer.info().await.ok()?;
                (info.num_pending == 0 && info.num_ack_pending == 0).then_some(())
            }
        })
        .await;
    }
}

/// The consumer settings of these tests: a second's acknowledgement wait.
fn quick_handover(setup: &Setup) -> kernel::config::ConsumerSettings {
    let mut settings = setup.consumer.consumer.clone();
    settings.ack_wait = Duration::from_secs(1);
    settings
}

async fn durable_info(setup: &Setup, name: &str) -> jetstream::consumer::Info {
    let stream = setup
        .jetstream
        .get_stream(setup.source().stream)
        .await
        .unwrap();
    let mut consumer: jetstream::consumer::PullConsumer = stream.get_consumer(name).await.unwrap();
    consumer.info().await.unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_that_dies_holding_a_batch_hands_it_to_another_within_the_ack_wait() {
    let setup = setup().await;
    let settings = quick_handover(&setup);
    let stuck = Arc::new(
        NotesProjection::new("attendance-notes").holding_each_event(Duration::from_secs(600)),
    );
    let (_, dying) = setup.start_with(stuck, settings.clone()).await;
    setup
        .publish_notes("student-1", &["one", "two", "three"])
        .await;
    eventually(
        "the first replica holds the batch",
        Duration::from_secs(20),
        || async {
            (durable_info(&setup, "attendance-notes")
                .await
                .num_ack_pending
                == 3)
                .then_some(())
        },
    )
    .await;
    // As kill -9 would: no acknowledgement, no refusal, no goodbye.
    dying.abort();
    let (stop, task) = setup
        .start_with(Arc::new(NotesProjection::new("attendance-notes")), settings)
        .await;
    setup
        .wait_for_texts_in_order(
            "the other replica projects the dead one's batch",
            Duration::from_secs(10),
            &["one", "two", "three"],
        )
        .await;
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_replica_stands_by_while_the_first_projects_and_never_overtakes_it() {
    let setup = setup().await;
    let mut settings = quick_handover(&setup);
    settings.batch_size = 1;
    setup
        .publish_notes("student-1", &["one", "two", "three"])
        .await;
    let slow = Arc::new(
        NotesProjection::new("attendance-notes").holding_each_event(Duration::from_secs(600)),
    );
    let (_, first) = setup.start_with(slow, settings.clone()).await;
    eventually(
        "the first replica holds one",
        Duration::from_secs(20),
        || async {
            // The consumer exists once the first replica leads.
            let stream = setup
                .jetstream
                .get_stream(setup.source().stream)
                .await
                .ok()?;
            let mut consumer: jetstream::consumer::PullConsumer =
                stream.get_consumer("attendance-notes").await.ok()?;
            (consumer.info().await.ok()?.num_ack_pending >= 1).then_some(())
        },
    )
    .await;
    let (stop, second) = setup
        .start_with(
            Arc::new(NotesProjection::new("attendance-notes")),
            settings.clone(),
        )
        .await;
    // Past the acknowledgement and gap waits: a second replica pulling beside the
    // first would have applied "two" and "three" ahead of "one" by now.
    tokio::time::sleep(settings.ack_wait + settings.gap_wait * 2).await;
    assert!(
        setup.notes().await.is_empty(),
        "the standby projected nothing"
    );
    first.abort();
    setup
        .wait_for_texts_in_order(
            "the standby takes over",
            Duration::from_secs(15),
            &["one", "two", "three"],
        )
        .await;
    let gaps: i64 = sqlx::query_scalar("SELECT count(*) FROM stream_gaps")
        .fetch_one(&setup.pool)
        .await
        .unwrap();
    assert_eq!(gaps, 0);
    stop.cancel();
    second.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_projecting_a_batch_longer_than_the_ack_wait_keeps_it() {
    let setup = setup().await;
    let slow = Arc::new(
        NotesProjection::new("attendance-notes").holding_each_event(Duration::from_millis(800)),
    );
    let (stop, task) = setup.start_with(slow, quick_handover(&setup)).await;
    setup
        .publish_notes("student-1", &["one", "two", "three"])
        .await;
    setup.wait_for_notes(3).await;
    setup.wait_until_drained("attendance-notes").await;
    let info = durable_info(&setup, "attendance-notes").await;
    assert_eq!(
        info.num_redelivered, 0,
        "JetStream heard the replica was still at it: nothing delivered twice"
    );
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_event_changes_nothing() {
    let setup = setup().await;
    let texts: Vec<String> = (0..40).map(|n| format!("note {n}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    setup.publish_notes("student-1", &texts).await;
    let projection = Arc::new(NotesProjection::new("attendance-notes"));
    let (stop, task) = setup.start(projection.clone()).await;
    setup.wait_for_notes(40).await;
    setup.wait_until_drained("attendance-notes").await;
    stop.cancel();
    task.await.unwrap().unwrap();

    // Forget every acknowledgement: JetStream delivers the whole stream again.
    let stream = setup
        .jetstream
        .get_stream(setup.source().stream)
        .await
        .unwrap();
    stream.delete_consumer("attendance-notes").await.unwrap();
    let (stop, task) = setup.start(projection).await;
    setup.wait_until_drained("attendance-notes").await;
    stop.cancel();
    task.await.unwrap().unwrap();

    let notes = setup.notes().await;
    assert_eq!(notes.len(), 40, "each event projected once");
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(&setup.pool)
        .await
        .unwrap();
    assert_eq!(dead, 0);
    let sequences: Vec<i64> = notes.iter().map(|(_, sequence)| *sequence).collect();
    assert_eq!(
        sequences,
        (1..=40).collect::<Vec<_>>(),
        "applied in stream order"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_event_is_dead_lettered_while_later_events_are_still_projected() {
    let setup = setup().await;
    setup
        .publish_notes("student-2", &["first", "poison", "third"])
        .await;
    setup.publish_notes("student-3", &["other stream"]).await;
    let projection = Arc::new(NotesProjection::new("attendance-notes").poison("poison"));
    let (stop, task) = setup.start(projection).await;
    let notes = setup.wait_for_notes(3).await;
    setup.wait_until_drained("attendance-notes").await;
    stop.cancel();
    task.await.unwrap().unwrap();

    let texts: Vec<&str> = notes.iter().map(|(text, _)| text.as_str()).collect();
    assert_eq!(texts, vec!["first", "third", "other stream"]);
    let (event_type, error, attempts): (String, String, i32) =
        sqlx::query_as("SELECT event_type, error, attempts FROM dead_letters")
            .fetch_one(&setup.pool)
            .await
            .unwrap();
    assert_eq!(event_type, "lienlac.testing.v1.Noted");
    assert!(error.contains("cannot project note \"poison\""), "{error}");
    assert_eq!(attempts, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_ahead_of_its_predecessor_waits_for_it() {
    let setup = setup().await;
    let (stop, task) = setup
        .start(Arc::new(NotesProjection::new("attendance-notes")))
        .await;
    setup.publish_raw("student-4", 1, "one").await;
    setup.publish_raw("student-4", 3, "three").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    setup.publish_raw("student-4", 2, "two").await;
    let notes = setup.wait_for_notes(3).await;
    stop.cancel();
    task.await.unwrap().unwrap();

    let sequences: Vec<i64> = notes.iter().map(|(_, sequence)| *sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3]);
    let gaps: i64 = sqlx::query_scalar("SELECT count(*) FROM stream_gaps")
        .fetch_one(&setup.pool)
        .await
        .unwrap();
    assert_eq!(gaps, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gap_that_never_fills_is_recorded_and_the_stream_moves_on() {
    let setup = setup().await;
    let (stop, task) = setup
        .start(Arc::new(NotesProjection::new("attendance-notes")))
        .await;
    setup.publish_raw("student-5", 1, "one").await;
    setup.publish_raw("student-5", 4, "four").await;
    let notes = setup.wait_for_notes(2).await;
    stop.cancel();
    task.await.unwrap().unwrap();

    assert_eq!(notes.last().unwrap().1, 4);
    let (expected, received): (i64, i64) = sqlx::query_as(
        "SELECT expected_version, received_version FROM stream_gaps WHERE stream_id = 'student-5'",
    )
    .fetch_one(&setup.pool)
    .await
    .unwrap();
    assert_eq!((expected, received), (2, 4));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_that_says_it_comes_from_another_service_is_dead_lettered_not_projected() {
    let setup = setup().await;
    assert_eq!(
        setup
            .dead_letters_after(setup.publish_as_another_service())
            .await,
        vec!["ce-source \"/lienlac/attendance/_\" is not the publishing service's"]
    );
    assert!(
        !setup
            .notes()
            .await
            .iter()
            .any(|(stream, _)| stream == "student-forged")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_without_cloudevents_headers_is_dead_lettered() {
    let setup = setup().await;
    assert_eq!(
        setup
            .dead_letters_after(setup.publish_without_headers())
            .await,
        vec!["message has no headers"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_projection_rebuilt_from_scratch_replays_to_the_same_read_model() {
    let setup = setup().await;
    setup.publish_notes("student-7", &["a", "b", "c"]).await;
    setup.publish_notes("student-8", &["d"]).await;
    let projection = Arc::new(NotesProjection::new("attendance-notes"));
    let (stop, task) = setup.start(projection.clone()).await;
    let before = setup.wait_for_notes(4).await;
    stop.cancel();
    task.await.unwrap().unwrap();

    reset_projection(&setup.pool, &setup.jetstream, &setup.source(), &*projection)
        .await
        .unwrap();
    assert!(setup.notes().await.is_empty());
    let (stop, task) = setup.start(projection).await;
    let after = setup.wait_for_notes(4).await;
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_applies_the_stream_once_in_order_and_the_durable_consumer_goes_on_after_it() {
    let setup = setup().await;
    setup
        .publish_notes("student-9", &["a", "b", "poison"])
        .await;
    setup.publish_raw("student-9", 2, "b published twice").await;
    setup.publish_raw("student-10", 1, "one").await;
    setup.publish_raw("student-10", 3, "three").await;
    setup.publish_without_headers().await;
    let projection = NotesProjection::new("attendance-notes").poison("poison");
    let finished_with = std::sync::Mutex::new(None);
    let replayed = replay(
        &setup.pool,
        &setup.jetstream,
        &setup.source(),
        &projection,
        2,
        async {
            *finished_with.lock().unwrap() = Some(setup.notes().await.len());
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(
        finished_with.into_inner().unwrap(),
        Some(4),
        "finishing starts once every event is written"
    );
    assert_eq!(
        projection.most_replayed_at_once.load(Ordering::SeqCst),
        1,
        "batches in stream order, one at a time"
    );
    assert_eq!(replayed.last_sequence, 7);
    assert_eq!(replayed.events, 5, "every event but the duplicate");
    let texts: Vec<String> = setup
        .notes()
        .await
        .into_iter()
        .map(|(text, _)| text)
        .collect();
    assert_eq!(texts, vec!["a", "b", "one", "three"]);
    let dead = setup.dead_letter_errors().await;
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        dead[0].contains("cannot project note \"poison\""),
        "{dead:?}"
    );
    assert_eq!(dead[1], "message has no headers");
    let gap: (i64, i64) = sqlx::query_as(
        "SELECT expected_version, received_version FROM stream_gaps WHERE stream_id = 'student-10'",
    )
    .fetch_one(&setup.pool)
    .await
    .unwrap();
    assert_eq!(gap, (2, 3));

    // The durable consumer starts after the replay, where its stream versions stop.
    create_consumer_after(
        &setup.jetstream,
        &setup.source(),
        "attendance-notes",
        &setup.consumer.consumer,
        replayed,
    )
    .await
    .unwrap();
    setup
        .publish_raw("student-9", 2, "b published after the replay")
        .await;
    setup.publish_notes("student-9", &["d"]).await;
    let (stop, task) = setup.start(Arc::new(projection)).await;
    let notes = setup.wait_for_notes(5).await;
    setup.wait_until_drained("attendance-notes").await;
    stop.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(notes.last().unwrap(), &("d".to_owned(), 4));
    assert_eq!(setup.notes().await.len(), 5, "nothing replayed twice");
    let gaps: i64 = sqlx::query_scalar("SELECT count(*) FROM stream_gaps")
        .fetch_one(&setup.pool)
        .await
        .unwrap();
    assert_eq!(
        gaps, 1,
        "the durable consumer knew student-9 was at version 3"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_in_any_order_writes_batches_at_once_and_each_event_once() {
    let setup = setup().await;
    for student in 0..6 {
        setup
            .publish_notes(&format!("student-{student}"), &["a", "b", "c"])
            .await;
    }
    setup.publish_notes("student-6", &["poison"]).await;
    setup.publish_raw("student-0", 2, "b published twice").await;
    let projection = NotesProjection::new("attendance-notes")
        .poison("poison")
        .replaying_in_any_order();
    let replayed = replay(
        &setup.pool,
        &setup.jetstream,
        &setup.source(),
        &projection,
        2,
        async { Ok(()) },
    )
    .await
    .unwrap();
    assert_eq!(replayed.events, 19, "every event but the duplicate");
    let at_once = projection.most_replayed_at_once.load(Ordering::SeqCst);
    assert!(
        (2..=REPLAY_WRITERS).contains(&at_once),
        "{at_once} batches at once"
    );
    let mut notes = setup.notes().await;
    notes.sort();
    let mut expected: Vec<(String, i64)> = (0..6)
        .flat_map(|_| {
            [
                ("a".to_owned(), 1),
                ("b".to_owned(), 2),
                ("c".to_owned(), 3),
            ]
        })
        .collect();
    expected.sort();
    assert_eq!(notes, expected);
    let dead = setup.dead_letter_errors().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].contains("cannot project note \"poison\""),
        "{dead:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_fails_when_its_finishing_fails_even_on_an_empty_stream() {
    let setup = setup().await;
    let projection = NotesProjection::new("attendance-notes");
    let failing = || async { Err::<(), _>(anyhow::anyhow!("the indexes could not be built")) };
    for publish in [false, true] {
        if publish {
            setup.publish_notes("student-1", &["a"]).await;
        }
        let error = replay(
            &setup.pool,
            &setup.jetstream,
            &setup.source(),
            &projection,
            2,
            failing(),
        )
        .await
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("the indexes could not be built"),
            "{error:#}"
        );
    }
}
