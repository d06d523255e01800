//! Binary COPY against a real Postgres: every kind of field reads back as written.

#![allow(clippy::unwrap_used)] // test helpers fail the test by panicking

mod common;

use kernel::config::ServiceId;
use kernel::copy::BinaryRows;
use kernel::testing::TestWorld;
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use common::MIGRATIONS;

type Row = (Uuid, Date, OffsetDateTime, i16, i32, i64, String);

#[tokio::test]
async fn binary_rows_read_back_as_written() {
    let world = TestWorld::new();
    let pool = world.pool(ServiceId::REPORTING, &MIGRATIONS).await;
    sqlx::query(
        "CREATE TABLE copied (id uuid, day date, at timestamptz, small int2, medium int4, large int8, words text)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let rows: Vec<Row> = vec![
        (
            Uuid::now_v7(),
            date!(2025 - 09 - 08),
            datetime!(2025-09-08 07:15:30.123456 +07:00),
            4,
            35,
            1_122_000,
            "roll_call:lớp 6A1:2025-09-08:SESSION_MORNING".to_owned(),
        ),
        (
            Uuid::from_u64_pair(0, 1),
            date!(1999 - 12 - 31),
            datetime!(1999-12-31 23:59:59.999999 UTC),
            -1,
            i32::MIN,
            -5,
            String::new(),
        ),
        (
            Uuid::max(),
            date!(2000 - 01 - 01),
            datetime!(2000-01-01 0:00 UTC),
            i16::MAX,
            0,
            i64::MAX,
            "Nguyễn Thị Ánh\ttab, \"quote\"\n".to_owned(),
        ),
    ];
    let mut copied = BinaryRows::new(7);
    for (id, day, at, small, medium, large, words) in &rows {
        copied
            .row()
            .uuid(*id)
            .date(*day)
            .timestamptz(*at)
            .int2(*small)
            .int4(*medium)
            .int8(*large)
            .text(words);
    }
    let mut conn = pool.acquire().await.unwrap();
    let loaded = copied
        .send(
            &mut conn,
            "COPY copied (id, day, at, small, medium, large, words) FROM STDIN (FORMAT binary)",
        )
        .await
        .unwrap();
    assert_eq!(loaded, 3);
    let read: Vec<Row> = sqlx::query_as("SELECT * FROM copied ORDER BY large DESC")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let mut expected = rows;
    expected.sort_by_key(|row| std::cmp::Reverse(row.5));
    assert_eq!(read, expected);

    let nothing = BinaryRows::new(7)
        .send(&mut conn, "COPY copied FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    assert_eq!(nothing, 0);
}
