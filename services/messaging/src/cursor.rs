//! Where a page of a list ends, as the client gets it back in `next_cursor`: the
//! last entry's instant (microseconds since the epoch) and id.

use kernel::error::AppResult;
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) fn encode(micros: i64, id: Uuid) -> String {
    format!("{micros}.{id}")
}

/// The cursor after an entry of a list ordered by instant and id.
pub(crate) fn after_entry(at: OffsetDateTime, id: Uuid) -> String {
    encode((at.unix_timestamp_nanos() / 1_000) as i64, id)
}

/// Where a newest-first page starts: before the entry `text` names, or before
/// everything for the first page.
pub(crate) fn before(text: &str) -> AppResult<(OffsetDateTime, Uuid)> {
    if text.is_empty() {
        return Ok((
            OffsetDateTime::now_utc() + time::Duration::days(36_500),
            Uuid::max(),
        ));
    }
    let (micros, id) = decode(text)?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| tonic::Status::invalid_argument("cursor: not one this service gave"))?;
    Ok((at, id))
}

pub(crate) fn decode(text: &str) -> AppResult<(i64, Uuid)> {
    text.split_once('.')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| tonic::Status::invalid_argument("cursor: not one this service gave").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_was_and_a_made_up_one_is_refused() {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(-42, id)).unwrap(), (-42, id));
        assert_eq!(decode(&encode(i64::MIN, id)).unwrap(), (i64::MIN, id));
        for made_up in ["", "12", "x.y", &format!("1.{id}x")] {
            assert!(decode(made_up).is_err(), "{made_up}");
        }
    }
}
