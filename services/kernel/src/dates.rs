//! School dates: local dates in Asia/Ho_Chi_Minh (UTC+7, no daylight saving), and
//! the school year (August to July) they fall in.

use time::{Date, Month, OffsetDateTime};

const LOCAL_OFFSET_HOURS: i64 = 7;

pub fn local_date(at: OffsetDateTime) -> Date {
    (at.to_offset(time::UtcOffset::UTC) + time::Duration::hours(LOCAL_OFFSET_HOURS)).date()
}

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

/// `YYYY-MM` of a date.
pub fn month_of(date: Date) -> String {
    format!("{:04}-{:02}", date.year(), u8::from(date.month()))
}

/// `YYYY-MM`: the first and last day of the month.
pub fn parse_month(text: &str) -> Option<(Date, Date)> {
    let (year, month) = text.trim().split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let first = Date::from_calendar_date(year.parse().ok()?, month, 1)
        .ok()
        .filter(|first| (FIRST_DAY..=LAST_DAY).contains(first))?;
    let last = Date::from_calendar_date(first.year(), month, month.length(first.year())).ok()?;
    Some((first, last))
}

/// The calendar lienlac works in: a date outside it is refused where it comes in,
/// so arithmetic on dates (next day, a period's length) can never overflow.
pub const FIRST_DAY: Date = time::macros::date!(1900 - 01 - 01);
pub const LAST_DAY: Date = time::macros::date!(2199 - 12 - 31);

/// `YYYY-MM-DD`, within [`FIRST_DAY`] and [`LAST_DAY`].
pub fn parse(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text.trim(), &format)
        .ok()
        .filter(|date| (FIRST_DAY..=LAST_DAY).contains(date))
}

/// `YYYY-MM-DD`.
pub fn format(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    )
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
    fn dates_outside_the_calendar_are_refused_so_nothing_overflows() {
        for refused in ["9999-12-31", "1899-12-31", "2200-01-01", "-0001-01-01"] {
            assert_eq!(parse(refused), None, "{refused}");
        }
        assert_eq!(parse("2199-12-31"), Some(LAST_DAY));
        assert!(LAST_DAY.next_day().is_some());
        assert_eq!(parse_month("9999-12"), None);
        assert!(parse_month("2199-12").is_some());
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
        assert_eq!(
            parse_month("2024-02"),
            Some((
                time::macros::date!(2024 - 02 - 01),
                time::macros::date!(2024 - 02 - 29)
            ))
        );
        assert_eq!(parse_month("2024-13"), None);
        assert_eq!(parse_month("2024-2"), None);
    }

    #[test]
    fn a_school_year_starts_in_august_of_its_first_year() {
        assert_eq!(
            school_year_start("2025-2026"),
            Some(time::macros::date!(2025 - 08 - 01))
        );
        assert_eq!(
            parse("2025-10-02"),
            Some(time::macros::date!(2025 - 10 - 02))
        );
        assert_eq!(parse("02/10/2025"), None);
    }
}
