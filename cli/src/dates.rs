//! School dates as the command line names them: Việt Nam's calendar day, school
//! years from August, sessions.

use lienlac_proto::attendance::v1::Session;

/// Today in Việt Nam.
pub(crate) fn local_today() -> time::Date {
    let offset = time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::now_utc().to_offset(offset).date()
}

/// Today in Việt Nam, `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    local_today().to_string()
}

/// `2025-2026` for a date from August 2025 to July 2026.
pub(crate) fn school_year(date: time::Date) -> String {
    let first = school_year_start(date).year();
    format!("{first}-{}", first + 1)
}

/// 1 August of the school year `date` falls in.
pub(crate) fn school_year_start(date: time::Date) -> time::Date {
    let year = if u8::from(date.month()) >= 8 {
        date.year()
    } else {
        date.year() - 1
    };
    time::Date::from_calendar_date(year, time::Month::August, 1).unwrap_or(date)
}

/// A `YYYY-MM-DD` date given on the command line.
pub(crate) fn parse(text: &str) -> anyhow::Result<time::Date> {
    let format = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]")?;
    time::Date::parse(text, &format)
        .map_err(|_| anyhow::anyhow!("{text:?} is not a date such as 2025-10-01"))
}

/// `morning` or `afternoon`.
pub(crate) fn session_name(session: i32) -> &'static str {
    match Session::try_from(session) {
        Ok(Session::Morning) => "morning",
        Ok(Session::Afternoon) => "afternoon",
        _ => "?",
    }
}
