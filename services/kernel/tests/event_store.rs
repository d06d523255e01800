//! The event store against a real Postgres: optimistic concurrency, idempotent
//! requests, published sequences and reads in commit order.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use std::sync::Arc;
use std::time::Duration;

use kernel::auth::Caller;
use kernel::config::ServiceId;
use kernel::event_store::{
    AppendError, AppendReceipt, CommitCursor, EventMeta, ExpectedVersion, FirstEvent, RequestError,
    RequestKey, append, append_first_events, find_request, read_committed, read_stream,
    record_request,
};
use kernel::testing::{TestWorld, eventually};
use lienlac_proto::testing::v1::NoteRequest;
use tokio::sync::Barrier;
use uuid::Uuid;

use common::{MIGRATIONS, internal, noted};

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_appends_at_the_same_version_let_exactly_one_win() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    let stream = format!("note-{}", Uuid::now_v7());
    let writers = 8;
    let barrier = Arc::new(Barrier::new(writers));
    let mut handles = Vec::new();
    for writer in 0..writers {
        let (pool, stream, barrier) = (pool.clone(), stream.clone(), barrier.clone());
        handles.push(tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            barrier.wait().await;
            let result = append(
                &mut tx,
                &stream,
                ExpectedVersion::NoStream,
                &[noted(&stream, &format!("writer {writer}"))],
                &EventMeta::default(),
            )
            .await;
            if result.is_ok() {
                tx.commit().await.unwrap();
            }
            result
        }));
    }
    let mut wins = 0;
    let mut conflicts = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Ok(receipt) => {
                wins += 1;
                assert_eq!(receipt.stream_version, 1);
            }
            Err(AppendError::Conflict { .. }) => conflicts += 1,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((wins, conflicts), (1, writers - 1));
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(read_stream(&mut conn, &stream).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn appending_at_a_stale_version_is_a_conflict_and_appends_nothing() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    let mut conn = pool.acquire().await.unwrap();
    let stream = "note-stale";
    let meta = EventMeta::default();
    append(
        &mut conn,
        stream,
        ExpectedVersion::NoStream,
        &[noted(stream, "a"), noted(stream, "b")],
        &meta,
    )
    .await
    .unwrap();
    let stale = append(
        &mut conn,
        stream,
        ExpectedVersion::Exact(1),
        &[noted(stream, "c")],
        &meta,
    )
    .await;
    assert!(
        matches!(stale, Err(AppendError::Conflict { expected: 1, .. })),
        "{stale:?}"
    );
    let ahead = append(
        &mut conn,
        stream,
        ExpectedVersion::Exact(5),
        &[noted(stream, "c")],
        &meta,
    )
    .await;
    assert!(ahead.unwrap_err().is_conflict());
    let receipt = append(
        &mut conn,
        stream,
        ExpectedVersion::Exact(2),
        &[noted(stream, "c")],
        &meta,
    )
    .await
    .unwrap();
    assert_eq!(receipt.stream_version, 3);
    let versions: Vec<i64> = read_stream(&mut conn, stream)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn published_events_are_numbered_apart_from_internal_ones() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    let mut conn = pool.acquire().await.unwrap();
    let stream = "note-mixed";
    let meta = EventMeta::default();
    append(
        &mut conn,
        stream,
        ExpectedVersion::NoStream,
        &[noted(stream, "a"), internal("x"), noted(stream, "b")],
        &meta,
    )
    .await
    .unwrap();
    append(
        &mut conn,
        stream,
        ExpectedVersion::Exact(3),
        &[internal("y"), noted(stream, "c")],
        &meta,
    )
    .await
    .unwrap();
    let sequences: Vec<Option<i64>> = read_stream(&mut conn, stream)
        .await
        .unwrap()
        .iter()
        .map(|e| e.published_sequence())
        .collect();
    assert_eq!(sequences, vec![Some(1), None, Some(2), None, Some(3)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn first_events_open_their_streams_at_once_and_an_existing_stream_refuses_them_all() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    let mut conn = pool.acquire().await.unwrap();
    let first = |stream: &str, published: bool| FirstEvent {
        stream_id: stream.to_owned(),
        event: if published {
            noted(stream, stream)
        } else {
            internal(stream)
        },
        meta: EventMeta {
            causation_id: Some(Uuid::now_v7()),
            ..EventMeta::default()
        },
    };
    append_first_events(&mut conn, &[first("open-a", true), first("open-b", false)])
        .await
        .unwrap();
    for (stream, sequence) in [("open-a", Some(1)), ("open-b", None)] {
        let events = read_stream(&mut conn, stream).await.unwrap();
        assert_eq!(events.len(), 1, "{stream}");
        assert_eq!(events[0].stream_version, 1);
        assert_eq!(events[0].published_sequence(), sequence, "{stream}");
    }
    let refused = append_first_events(&mut conn, &[first("open-c", true), first("open-a", true)])
        .await
        .unwrap_err();
    assert!(refused.is_conflict(), "{refused}");
    assert!(read_stream(&mut conn, "open-c").await.unwrap().is_empty());
}

/// What a command answers; recorded under its request id.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Answer {
    receipt: AppendReceipt,
}

fn caller(account_id: Uuid) -> Caller {
    Caller {
        account_id,
        person_id: None,
        session: None,
        bindings: Vec::new(),
    }
}

fn note_request(request_id: Uuid, stream: &str, text: &str) -> NoteRequest {
    NoteRequest {
        request_id: request_id.to_string(),
        stream_id: stream.to_owned(),
        text: text.to_owned(),
        ..NoteRequest::default()
    }
}

async fn note_once(
    pool: &sqlx::PgPool,
    key: &RequestKey,
    stream: &str,
) -> Result<Answer, RequestError> {
    let mut tx = pool.begin().await.unwrap();
    if let Some(first) = find_request::<Answer>(&mut tx, key).await? {
        return Ok(first);
    }
    let receipt = append(
        &mut tx,
        stream,
        ExpectedVersion::NoStream,
        &[noted(stream, "once")],
        &EventMeta::default(),
    )
    .await
    .unwrap();
    let answer = Answer { receipt };
    record_request(&mut tx, key, &answer).await?;
    tx.commit().await.unwrap();
    Ok(answer)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_request_id_returns_the_first_answer_and_appends_nothing() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    let (teacher, request_id) = (caller(Uuid::now_v7()), Uuid::now_v7());
    let key = RequestKey::new(
        &teacher,
        request_id,
        &note_request(request_id, "note-idempotent", "a"),
    );
    let first = note_once(&pool, &key, "note-idempotent").await.unwrap();
    let retry = note_once(&pool, &key, "note-idempotent").await.unwrap();
    assert_eq!(first, retry);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        read_stream(&mut conn, "note-idempotent")
            .await
            .unwrap()
            .len(),
        1
    );

    let forget = RequestKey {
        command: "Forget",
        ..key.clone()
    };
    let reused = find_request::<Answer>(&mut conn, &forget).await;
    assert!(
        matches!(reused, Err(RequestError::ReusedForAnotherCommand { .. })),
        "{reused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_id_is_the_callers_own_and_stands_for_one_request() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    let (teacher, request_id) = (caller(Uuid::now_v7()), Uuid::now_v7());
    let asked = note_request(request_id, "note-owned", "a");
    note_once(
        &pool,
        &RequestKey::new(&teacher, request_id, &asked),
        "note-owned",
    )
    .await
    .unwrap();
    let mut conn = pool.acquire().await.unwrap();

    let someone_else = RequestKey::new(&caller(Uuid::now_v7()), request_id, &asked);
    assert!(
        find_request::<Answer>(&mut conn, &someone_else)
            .await
            .unwrap()
            .is_none(),
        "another caller's request with the same id never gets the stored answer"
    );

    let changed = RequestKey::new(
        &teacher,
        request_id,
        &note_request(request_id, "note-owned", "b"),
    );
    let refused = find_request::<Answer>(&mut conn, &changed).await;
    assert!(
        matches!(refused, Err(RequestError::ReusedForAnotherRequest(id)) if id == request_id),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_order_reads_skip_nothing_when_transactions_commit_out_of_position_order() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::ATTENDANCE, &MIGRATIONS).await;
    // The first transaction takes the smaller position but commits last.
    let mut early = pool.begin().await.unwrap();
    append(
        &mut early,
        "note-early",
        ExpectedVersion::NoStream,
        &[noted("note-early", "early")],
        &EventMeta::default(),
    )
    .await
    .unwrap();
    let mut late = pool.begin().await.unwrap();
    append(
        &mut late,
        "note-late",
        ExpectedVersion::NoStream,
        &[noted("note-late", "late")],
        &EventMeta::default(),
    )
    .await
    .unwrap();
    late.commit().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let visible = read_committed(&mut conn, CommitCursor::START, 100, true)
        .await
        .unwrap();
    assert!(
        visible.is_empty(),
        "nothing may be read past a transaction still running, got {visible:?}"
    );
    early.commit().await.unwrap();
    // Other tests' transactions, begun before this commit and still running, hold
    // the reader back in the same way for a moment.
    let all = eventually(
        "both events readable once both committed",
        Duration::from_secs(10),
        || async {
            let mut conn = pool.acquire().await.ok()?;
            let all = read_committed(&mut conn, CommitCursor::START, 100, true)
                .await
                .ok()?;
            (all.len() >= 2).then_some(all)
        },
    )
    .await;
    let streams: Vec<&str> = all.iter().map(|e| e.stream_id.as_str()).collect();
    assert_eq!(streams, vec!["note-early", "note-late"]);
    let after = read_committed(&mut conn, CommitCursor::of(&all[1]), 100, true)
        .await
        .unwrap();
    assert!(after.is_empty());
}
