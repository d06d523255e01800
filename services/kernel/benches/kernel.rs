//! Kernel benchmark (`make bench`): append throughput against raw Postgres inserting
//! the same rows with the same concurrency, relay throughput to JetStream, and relay
//! lag at a steady 1,000 events/s. Prints a table and writes `target/bench/kernel.json`.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // a benchmark program, not library code

/// mimalloc: the services allocate on one thread and free on another all the time
/// (messages, rows, requests), where glibc's allocator spends a third of a
/// rebuild's time consolidating and locking.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use hdrhistogram::Histogram;
use kernel::config::{KernelConfig, ServiceId};
use kernel::event_store::{
    EventMeta, ExpectedVersion, NewEvent, PublishedForm, append, stream_version,
};
use kernel::outbox::{Relay, RelayConfig, ensure_stream};
use kernel::testing::TestWorld;
use lienlac_proto::testing::v1::Noted;
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const SERVICE: ServiceId = ServiceId::ATTENDANCE;
const WRITERS: usize = 32;
/// Rounds of each write measurement, alternated so that drift (checkpoints,
/// autovacuum, table growth) falls on both alike.
const ROUNDS: usize = 3;
const ROUND_SECONDS: u64 = 4;
const RELAY_EVENTS: usize = 50_000;
const LAG_RATE: u64 = 1_000;
const LAG_SECONDS: u64 = 10;

static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

/// A 1-KB event: about 1 KB of stored JSON and 1 KB of published protobuf.
fn one_kb_event(stream_id: &str) -> NewEvent {
    let text = "x".repeat(1000);
    let message = Noted {
        stream_id: stream_id.to_owned(),
        text: text.clone(),
    };
    NewEvent::new("Noted", 1, &serde_json::json!({ "text": text }))
        .unwrap()
        .published_as(PublishedForm::encode(&message))
}

/// Appends one event per transaction from `WRITERS` tasks for `ROUND_SECONDS`;
/// each writer owns one stream. Returns transactions per second.
async fn append_throughput(pool: &PgPool) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (pool, stop, done) = (pool.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let stream = format!("bench-{writer}-{}", Uuid::now_v7());
            let meta = EventMeta::default();
            let mut version = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut tx = pool.begin().await.unwrap();
                let receipt = append(
                    &mut tx,
                    &stream,
                    ExpectedVersion::from_loaded(version),
                    &[one_kb_event(&stream)],
                    &meta,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                version = receipt.stream_version;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    measure(stop, done, tasks).await
}

/// The same rows inserted with plain single-row INSERTs into a table made `LIKE`
/// the events table (same columns, defaults, constraints and indexes).
async fn raw_insert_throughput(pool: &PgPool) -> f64 {
    sqlx::query("CREATE TABLE IF NOT EXISTS raw_events (LIKE events INCLUDING ALL)")
        .execute(pool)
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (pool, stop, done) = (pool.clone(), stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let stream = format!("raw-{writer}-{}", Uuid::now_v7());
            let mut version = 0_i64;
            while !stop.load(Ordering::Relaxed) {
                let event = one_kb_event(&stream);
                let published = event.published.unwrap();
                version += 1;
                let mut tx = pool.begin().await.unwrap();
                sqlx::query(
                    "INSERT INTO raw_events (event_id, stream_id, stream_version, event_type, schema_version, \
                     data, published_type, published_payload, published_count, correlation_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(event.event_id)
                .bind(&stream)
                .bind(version)
                .bind(&event.event_type)
                .bind(event.schema_version)
                .bind(&event.data)
                .bind(&published.type_name)
                .bind(&published.payload)
                .bind(version)
                .bind(Uuid::nil())
                .execute(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    measure(stop, done, tasks).await
}

async fn measure(
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> f64 {
    // One second of warm-up, then count.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start_count = done.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(ROUND_SECONDS)).await;
    let count = done.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / elapsed
}

/// Commits `RELAY_EVENTS` events, then times one relay flushing them all.
async fn relay_throughput(pool: &PgPool, relay: &Relay) -> f64 {
    relay.flush().await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let meta = EventMeta::default();
    for chunk in 0..RELAY_EVENTS / 500 {
        let stream = format!("relay-{chunk}");
        let events: Vec<NewEvent> = (0..500).map(|_| one_kb_event(&stream)).collect();
        append(
            &mut conn,
            &stream,
            ExpectedVersion::NoStream,
            &events,
            &meta,
        )
        .await
        .unwrap();
    }
    let started = Instant::now();
    relay.flush().await.unwrap();
    RELAY_EVENTS as f64 / started.elapsed().as_secs_f64()
}

/// Appends at a steady `LAG_RATE` events/s with the relay running, and measures
/// from each commit to the event's arrival at a NATS subscriber.
async fn relay_lag(pool: &PgPool, relay: Relay, config: &KernelConfig) -> Histogram<u64> {
    let client = kernel::nats::connect(config).await;
    let mut subscription = client
        .subscribe(format!("{}.>", config.subject_root()))
        .await
        .unwrap();
    let committed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let stop = CancellationToken::new();
    let relay_task = tokio::spawn(relay.run(stop.clone()));

    let total = LAG_RATE * LAG_SECONDS;
    let receiver = {
        let committed = committed.clone();
        tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            let mut seen = 0;
            while seen < total {
                let Ok(Some(message)) =
                    tokio::time::timeout(Duration::from_secs(10), subscription.next()).await
                else {
                    break;
                };
                let arrived = Instant::now();
                let id = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("ce-id"))
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default();
                if let Some(at) = committed.lock().await.get(&id) {
                    histogram
                        .record(arrived.duration_since(*at).as_micros() as u64)
                        .unwrap();
                }
                seen += 1;
            }
            histogram
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / LAG_RATE));
    let meta = EventMeta::default();
    for n in 0..total {
        ticker.tick().await;
        let stream = format!("lag-{}", n % 100);
        let event = one_kb_event(&stream);
        let id = event.event_id.to_string();
        let mut tx = pool.begin().await.unwrap();
        let version = stream_version(&mut tx, &stream).await.unwrap();
        append(
            &mut tx,
            &stream,
            ExpectedVersion::from_loaded(version),
            &[event],
            &meta,
        )
        .await
        .unwrap();
        // Timed from just before the commit (a little longer than the true lag), so
        // that the subscriber never sees an event before its start time is known.
        committed.lock().await.insert(id, Instant::now());
        tx.commit().await.unwrap();
    }
    let histogram = receiver.await.unwrap();
    stop.cancel();
    relay_task.await.unwrap().unwrap();
    histogram
}

#[tokio::main]
async fn main() {
    let world = TestWorld::new();
    let mut config = world.config(SERVICE);
    config.db_max_connections = WRITERS as u32 + 4;
    config.relay = KernelConfig::defaults(SERVICE).relay;
    let pool = {
        kernel::db::ensure_database(&config).await.unwrap();
        let pool = kernel::db::connect(&config).await.unwrap();
        kernel::db::migrate(&pool, &config.schema, &NO_MIGRATIONS)
            .await
            .unwrap();
        pool
    };
    let jetstream = world.jetstream().await;
    ensure_stream(&jetstream, &config).await.unwrap();

    println!(
        "kernel benchmark: {WRITERS} writers, 1-KB events, {ROUNDS} alternating rounds of {ROUND_SECONDS} s"
    );
    let (mut raw_rounds, mut append_rounds) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw_rounds.push(raw_insert_throughput(&pool).await);
        append_rounds.push(append_throughput(&pool).await);
    }
    let mean = |rounds: &[f64]| rounds.iter().sum::<f64>() / rounds.len() as f64;
    let (raw_pg, appended) = (mean(&raw_rounds), mean(&append_rounds));
    println!("rounds (raw / append tx/s):     {raw_rounds:.0?} / {append_rounds:.0?}");
    let ratio = appended / raw_pg;
    println!("append                         {appended:>10.0} tx/s");
    println!("raw Postgres insert (baseline) {raw_pg:>10.0} tx/s");
    println!("append / raw                   {ratio:>10.2}   (target >= 0.80)");

    let relay = Relay::new(
        pool.clone(),
        jetstream.clone(),
        RelayConfig::from_kernel(&config),
    );
    let relay_per_s = relay_throughput(&pool, &relay).await;
    println!("relay throughput               {relay_per_s:>10.0} events/s   (target >= 10000)");

    let lag = relay_lag(&pool, relay, &config).await;
    let ms = |q: f64| lag.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "relay lag at {LAG_RATE}/s             p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} events   (target p99 <= 100 ms)",
        ms(0.5),
        ms(0.99),
        lag.max() as f64 / 1000.0,
        lag.len()
    );

    let report = serde_json::json!({
        "writers": WRITERS,
        "event_bytes": 1000,
        "append_tx_per_s": appended.round(),
        "raw_pg_insert_tx_per_s": raw_pg.round(),
        "append_ratio_vs_raw_pg": (ratio * 1000.0).round() / 1000.0,
        "relay_events_per_s": relay_per_s.round(),
        "relay_lag_rate_per_s": LAG_RATE,
        "relay_lag_p50_ms": ms(0.5),
        "relay_lag_p99_ms": ms(0.99),
        "relay_lag_max_ms": lag.max() as f64 / 1000.0,
        "relay_lag_samples": lag.len(),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kernel.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", path.display());
}
