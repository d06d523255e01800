//! Rows for Postgres's `COPY … FROM STDIN (FORMAT binary)`: the fastest way to load
//! many rows, for a rebuild that fills an empty read model.
//!
//! The rows are encoded in memory in Postgres's binary wire format (big-endian,
//! dates and times counted from 2000-01-01, text as its UTF-8 bytes) and sent with
//! one COPY.

use bytes::BufMut as _;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// The file header: signature, no flags, no extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const TRAILER: i16 = -1;
/// Postgres counts dates and times from here.
const POSTGRES_EPOCH: OffsetDateTime = time::macros::datetime!(2000-01-01 0:00 UTC);

/// Rows of `columns` fields each, encoded for a binary COPY. Each row starts with
/// [`BinaryRows::row`] and then gives its fields in the COPY statement's order.
pub struct BinaryRows {
    columns: i16,
    rows: usize,
    buffer: Vec<u8>,
    /// The length of a field too long to encode, if any.
    too_long: Option<usize>,
}

impl BinaryRows {
    pub fn new(columns: i16) -> Self {
        Self {
            columns,
            rows: 0,
            buffer: HEADER.to_vec(),
            too_long: None,
        }
    }

    pub fn row(&mut self) -> &mut Self {
        self.rows += 1;
        self.buffer.put_i16(self.columns);
        self
    }

    pub fn uuid(&mut self, value: Uuid) -> &mut Self {
        self.buffer.put_i32(16);
        self.buffer.put_slice(value.as_bytes());
        self
    }

    pub fn date(&mut self, value: Date) -> &mut Self {
        self.buffer.put_i32(4);
        self.buffer
            .put_i32(value.to_julian_day() - POSTGRES_EPOCH.date().to_julian_day());
        self
    }

    pub fn timestamptz(&mut self, value: OffsetDateTime) -> &mut Self {
        let since_epoch = value - POSTGRES_EPOCH;
        self.buffer.put_i32(8);
        self.buffer.put_i64(since_epoch.whole_microseconds() as i64);
        self
    }

    pub fn int2(&mut self, value: i16) -> &mut Self {
        self.buffer.put_i32(2);
        self.buffer.put_i16(value);
        self
    }

    pub fn int4(&mut self, value: i32) -> &mut Self {
        self.buffer.put_i32(4);
        self.buffer.put_i32(value);
        self
    }

    pub fn int8(&mut self, value: i64) -> &mut Self {
        self.buffer.put_i32(8);
        self.buffer.put_i64(value);
        self
    }

    /// A `text` field: its UTF-8 bytes as they are. A field longer than a COPY can
    /// carry is not encoded: `send` refuses the rows.
    pub fn text(&mut self, value: &str) -> &mut Self {
        match i32::try_from(value.len()) {
            Ok(length) => {
                self.buffer.put_i32(length);
                self.buffer.put_slice(value.as_bytes());
            }
            Err(_) => self.too_long = Some(value.len()),
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Sends the rows with `copy`, a `COPY <table> (<columns>) FROM STDIN (FORMAT
    /// binary)` statement; returns how many rows Postgres loaded. Sending nothing
    /// costs no round trip.
    pub async fn send(self, conn: &mut PgConnection, copy: &str) -> sqlx::Result<u64> {
        if let Some(length) = self.too_long {
            return Err(sqlx::Error::Encode(
                format!("a field of {length} bytes is longer than a COPY can carry").into(),
            ));
        }
        if self.is_empty() {
            return Ok(0);
        }
        let mut buffer = self.buffer;
        buffer.put_i16(TRAILER);
        let mut copy_in = conn.copy_in_raw(copy).await?;
        copy_in.send(buffer).await?;
        copy_in.finish().await
    }
}
