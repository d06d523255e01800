//! The outbox relay against real Postgres and JetStream: commit order under
//! concurrent appenders, CloudEvents headers, a NATS outage mid-run, and the
//! hand-over from a paused relay to a standby.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use kernel::config::ServiceId;
use kernel::event_store::{EventMeta, ExpectedVersion, append, stream_version};
use kernel::outbox::ensure_stream;
use kernel::testing::{TestWorld, eventually};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use common::{MIGRATIONS, PrivateNats, internal, noted, stored_messages, stream_len};

const SERVICE: ServiceId = ServiceId::ATTENDANCE;

#[tokio::test(flavor = "multi_thread")]
async fn relay_publishes_every_event_once_in_stream_order_while_commits_land_out_of_position_order()
{
    let world = TestWorld::new();
    let config = world.config(SERVICE);
    let pool = world.pool(SERVICE, &MIGRATIONS).await;
    let jetstream = world.jetstream().await;
    ensure_stream(&jetstream, &config).await.unwrap();
    let relay = kernel::outbox::Relay::new(
        pool.clone(),
        jetstream.clone(),
        kernel::outbox::RelayConfig::from_kernel(&config),
    );
    let stop = CancellationToken::new();
    let relay_task = tokio::spawn(relay.run(stop.clone()));

    let appenders = 8;
    let rounds = 25;
    // (position, commit order) of every published event, to show that commits
    // really did land out of position order.
    let commits: Arc<Mutex<Vec<(i64, usize)>>> = Arc::default();
    let mut tasks = Vec::new();
    for appender in 0..appenders {
        let (pool, commits) = (pool.clone(), commits.clone());
        tasks.push(tokio::spawn(async move {
            let stream = format!("note-{appender}");
            for round in 0..rounds {
                let mut tx = pool.begin().await.unwrap();
                let events = if round % 5 == 4 {
                    vec![
                        internal("not published"),
                        noted(&stream, &format!("{round}")),
                    ]
                } else {
                    vec![noted(&stream, &format!("{round}"))]
                };
                let expected =
                    ExpectedVersion::from_loaded(stream_version(&mut tx, &stream).await.unwrap());
                append(&mut tx, &stream, expected, &events, &EventMeta::default())
                    .await
                    .unwrap();
                let position: i64 =
                    sqlx::query_scalar("SELECT max(position) FROM events WHERE stream_id = $1")
                        .bind(&stream)
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                // Hold the transaction open for a while: others take later positions
                // and commit first.
                tokio::time::sleep(Duration::from_millis(
                    ((appender * 7 + round * 3) % 11) as u64 * 2,
                ))
                .await;
                let mut log = commits.lock().await;
                tx.commit().await.unwrap();
                let order = log.len();
                log.push((position, order));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = (appenders * rounds) as u64;
    eventually("every event in JetStream", Duration::from_secs(20), || {
        let jetstream = jetstream.clone();
        let name = config.stream_name();
        async move { (stream_len(&jetstream, &name).await >= total).then_some(()) }
    })
    .await;
    // Let a late duplicate, if any, arrive before counting.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    relay_task.await.unwrap().unwrap();

    let log = commits.lock().await.clone();
    let out_of_order = log
        .iter()
        .any(|(position, order)| log.iter().any(|(p, o)| p > position && o < order));
    assert!(
        out_of_order,
        "the test must make later positions commit first"
    );

    let messages = stored_messages(&jetstream, &config.stream_name()).await;
    assert_eq!(messages.len() as u64, total, "published exactly once each");
    let ids: HashSet<&str> = messages.iter().map(|m| m.event_id.as_str()).collect();
    assert_eq!(ids.len() as u64, total);
    let db_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT event_id FROM events WHERE published_type IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        db_ids
            .iter()
            .all(|id| ids.contains(id.to_string().as_str())),
        "none skipped"
    );
    let mut per_stream: HashMap<&str, Vec<i64>> = HashMap::new();
    for message in &messages {
        assert_eq!(
            message.msg_id, message.event_id,
            "Nats-Msg-Id is the event id"
        );
        per_stream
            .entry(&message.stream_id)
            .or_default()
            .push(message.sequence);
    }
    for (stream, sequences) in per_stream {
        let expected: Vec<i64> = (1..=rounds as i64).collect();
        assert_eq!(sequences, expected, "stream {stream} in order");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn published_events_carry_the_subject_and_cloudevents_headers_of_the_contract() {
    let world = TestWorld::new();
    let config = world.config(SERVICE);
    let pool = world.pool(SERVICE, &MIGRATIONS).await;
    let jetstream = world.jetstream().await;
    ensure_stream(&jetstream, &config).await.unwrap();
    let district = Uuid::now_v7();
    let school = Uuid::now_v7();
    let mut conn = pool.acquire().await.unwrap();
    let receipt = append(
        &mut conn,
        "roll_call-1",
        ExpectedVersion::NoStream,
        &[noted("roll_call-1", "hello")],
        &EventMeta::default().in_tenant(district, Some(school)),
    )
    .await
    .unwrap();
    let relay = kernel::outbox::Relay::new(
        pool.clone(),
        jetstream.clone(),
        kernel::outbox::RelayConfig::from_kernel(&config),
    );
    relay.flush().await.unwrap();

    let messages = stored_messages(&jetstream, &config.stream_name()).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(
        message.subject,
        format!(
            "{}.lienlac.attendance.v1.{district}.{school}.Noted",
            world.namespace
        )
    );
    let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned());
    assert_eq!(header("ce-specversion").as_deref(), Some("1.0"));
    assert_eq!(header("ce-id"), Some(receipt.event_ids[0].to_string()));
    assert_eq!(
        header("ce-source"),
        Some(format!("/lienlac/attendance/{school}"))
    );
    assert_eq!(
        header("ce-type").as_deref(),
        Some("lienlac.testing.v1.Noted")
    );
    assert_eq!(header("ce-subject").as_deref(), Some("roll_call-1"));
    assert_eq!(
        header("ce-datacontenttype").as_deref(),
        Some("application/protobuf")
    );
    assert_eq!(header("ce-sequence").as_deref(), Some("1"));
    let time = header("ce-time").unwrap();
    assert!(
        time::OffsetDateTime::parse(&time, &time::format_description::well_known::Rfc3339).is_ok(),
        "{time}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_loses_nothing_when_nats_stops_and_restarts_mid_run() {
    let world = TestWorld::new();
    let mut nats = PrivateNats::start(&world.namespace).await;
    let mut config = world.config(SERVICE);
    config.nats_url = nats.url();
    let pool = world.pool(SERVICE, &MIGRATIONS).await;
    let client = kernel::nats::connect(&config).await;
    let jetstream = async_nats::jetstream::new(client);
    ensure_stream(&jetstream, &config).await.unwrap();
    let relay = kernel::outbox::Relay::new(
        pool.clone(),
        jetstream.clone(),
        kernel::outbox::RelayConfig::from_kernel(&config),
    );
    let stop = CancellationToken::new();
    let relay_task = tokio::spawn(relay.run(stop.clone()));

    let total = 300;
    let writer = {
        let pool = pool.clone();
        tokio::spawn(async move {
            for n in 0..total {
                let stream = format!("note-{}", n % 10);
                let mut tx = pool.begin().await.unwrap();
                let version = stream_version(&mut tx, &stream).await.unwrap();
                append(
                    &mut tx,
                    &stream,
                    ExpectedVersion::from_loaded(version),
                    &[noted(&stream, &n.to_string())],
                    &EventMeta::default(),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    nats.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    nats.resume().await;
    writer.await.unwrap();

    let observer = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    eventually(
        "every event after the outage",
        Duration::from_secs(60),
        || {
            let observer = observer.clone();
            let name = config.stream_name();
            async move { (stream_len(&observer, &name).await >= total as u64).then_some(()) }
        },
    )
    .await;
    stop.cancel();
    relay_task.await.unwrap().unwrap();

    let messages = stored_messages(&observer, &config.stream_name()).await;
    let ids: HashSet<&str> = messages.iter().map(|m| m.event_id.as_str()).collect();
    assert_eq!(ids.len(), total, "nothing lost");
    assert_eq!(messages.len(), total, "duplicates dropped by Nats-Msg-Id");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_relay_takes_over_within_seconds_when_the_active_one_falls_silent() {
    // Longer than Postgres keeps a silent session (10 s) and a standby's poll.
    const PAUSE: Duration = Duration::from_secs(16);
    let world = TestWorld::new();
    let config = world.config(SERVICE);
    let pool = world.pool(SERVICE, &MIGRATIONS).await;
    let jetstream = world.jetstream().await;
    ensure_stream(&jetstream, &config).await.unwrap();
    let published = |count: u64| {
        let (jetstream, name) = (jetstream.clone(), config.stream_name());
        move || {
            let (jetstream, name) = (jetstream.clone(), name.clone());
            async move { (stream_len(&jetstream, &name).await >= count).then_some(()) }
        }
    };

    // The first relay as a process of its own: its own thread, runtime, pool and
    // NATS connection, which a pause stops all at once.
    let (pause, paused) = tokio::sync::oneshot::channel::<()>();
    let stop_first = CancellationToken::new();
    let first = {
        let (config, stop) = (config.clone(), stop_first.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let pool = kernel::db::connect(&config).await.unwrap();
                let jetstream = async_nats::jetstream::new(kernel::nats::connect(&config).await);
                tokio::spawn(async move {
                    if paused.await.is_ok() {
                        std::thread::sleep(PAUSE);
                    }
                });
                kernel::outbox::Relay::new(
                    pool,
                    jetstream,
                    kernel::outbox::RelayConfig::from_kernel(&config),
                )
                .run(stop)
                .await
            })
        })
    };
    append_note(&pool, "before the pause").await;
    eventually(
        "the first relay publishes",
        Duration::from_secs(10),
        published(1),
    )
    .await;

    let stop_standby = CancellationToken::new();
    let standby = tokio::spawn(
        kernel::outbox::Relay::new(
            pool.clone(),
            jetstream.clone(),
            kernel::outbox::RelayConfig::from_kernel(&config),
        )
        .run(stop_standby.clone()),
    );
    pause.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    append_note(&pool, "during the pause").await;
    eventually(
        "the standby publishes while the first relay is paused",
        PAUSE - Duration::from_secs(2),
        published(2),
    )
    .await;

    stop_first.cancel();
    first.join().unwrap().unwrap();
    stop_standby.cancel();
    standby.await.unwrap().unwrap();
    assert_eq!(
        stored_messages(&jetstream, &config.stream_name())
            .await
            .len(),
        2
    );
}

async fn append_note(pool: &sqlx::PgPool, text: &str) {
    let mut tx = pool.begin().await.unwrap();
    let version = stream_version(&mut tx, "note-pause").await.unwrap();
    append(
        &mut tx,
        "note-pause",
        ExpectedVersion::from_loaded(version),
        &[noted("note-pause", text)],
        &EventMeta::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}
