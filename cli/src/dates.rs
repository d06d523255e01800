//! School dates as the command line names them: Việt Nam's calendar day, school
//! years from August, sessions.

use lienlac_proto::attendance::v1::Session;

pub(crate) use school::dates::local_today;

/// Today in Việt Nam, `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    local_today().to_string()
}

pub(crate) use school::dates::school_year_of as school_year;

/// 1 August of the school year `date` falls in.
pub(crate) fn school_year_start(date: time::Date) -> time::Date {
    school::dates::school_year_start(&school_year(date)).unwrap_or(date)
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
