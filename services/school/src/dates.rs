//! School dates: local dates in Asia/Ho_Chi_Minh (UTC+7, no daylight saving), and
//! the school year (August to July) they fall in.

use time::{Date, Month, OffsetDateTime};

const LOCAL_OFFSET_HOURS: i64 = 7;

pub fn local_date(at: OffsetDateTime) -> Date {
    (at.to_offset(time::UtcOffset::UTC) + time::Duration::hours(LOCAL_OFFSET_HOURS)).date()
}

/// Ho Chi Minh City's offset from UTC.
pub fn local_offset() -> time::UtcOffset {
    time::UtcOffset::from_whole_seconds(LOCAL_OFFSET_HOURS as i32 * 3600)
        .unwrap_or(time::UtcOffset::UTC)
}

/// The first instant of school date `date`.
pub fn local_day_start(date: Date) -> OffsetDateTime {
    date.midnight().assume_utc() - time::Duration::hours(LOCAL_OFFSET_HOURS)
}

/// Today's school date.
pub fn local_today() -> Date {
    local_date(OffsetDateTime::now_utc())
}

/// The first day of school year `2025-2026`: 1 August 2025, before any school opens.
pub fn school_year_start(school_year: &str) -> Option<Date> {
    let first: i32 = school_year.split('-').next()?.parse().ok()?;
    Date::from_calendar_date(first, Month::August, 1).ok()
}

/// The school year a date falls in: `2025-2026` from 1 August 2025 to 31 July 2026.
pub fn school_year_of(date: Date) -> String {
    let first = if date.month() >= Month::August {
        date.year()
    } else {
        date.year() - 1
    };
    format!("{first}-{}", first + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_date_turns_at_midnight_in_ho_chi_minh_city() {
        let evening_utc = time::macros::datetime!(2025-10-01 16:59 UTC);
        let midnight_local = time::macros::datetime!(2025-10-01 17:00 UTC);
        assert_eq!(local_date(evening_utc), time::macros::date!(2025 - 10 - 01));
        assert_eq!(
            local_date(midnight_local),
            time::macros::date!(2025 - 10 - 02)
        );
    }

    #[test]
    fn a_date_belongs_to_the_school_year_that_began_the_august_before() {
        assert_eq!(
            school_year_of(time::macros::date!(2025 - 08 - 01)),
            "2025-2026"
        );
        assert_eq!(
            school_year_of(time::macros::date!(2026 - 07 - 31)),
            "2025-2026"
        );
    }

    #[test]
    fn a_school_year_starts_in_august_of_its_first_year() {
        assert_eq!(
            school_year_start("2025-2026"),
            Some(time::macros::date!(2025 - 08 - 01))
        );
        assert_eq!(school_year_start("twenty"), None);
    }
}
