//! Calendar dates as requests and answers write them (`YYYY-MM-DD`, `YYYY-MM`,
//! RFC 3339), within the calendar lienlac works in. What a date means to a school
//! (its local day, its school year) is the `school` crate's.

use time::{Date, Month, OffsetDateTime};

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
    fn a_month_is_its_first_and_last_day() {
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
    fn a_date_is_written_year_month_day() {
        assert_eq!(
            parse("2025-10-02"),
            Some(time::macros::date!(2025 - 10 - 02))
        );
        assert_eq!(parse("02/10/2025"), None);
    }
}
