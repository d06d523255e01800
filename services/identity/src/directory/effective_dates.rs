//! When a transfer or withdrawal takes effect: the school date asked for (a late
//! record of a move made earlier, as the city database reports it), or today.

use time::Date;

/// The date a move of a student out of their current class takes effect, or why
/// `asked` cannot be it. `since` is the date the current class began when that
/// was after the school year's start.
pub(crate) fn effective_on(
    asked: Option<Date>,
    today: Date,
    school_year: &str,
    since: Option<Date>,
) -> Result<Date, String> {
    let Some(asked) = asked else {
        return Ok(today);
    };
    if asked > today {
        return Err(format!(
            "effective_date {asked} is after today ({today}); record the move on its day"
        ));
    }
    if let Some(start) = school::dates::school_year_start(school_year)
        && asked < start
    {
        return Err(format!(
            "effective_date {asked} is before the school year {school_year} began ({start})"
        ));
    }
    if let Some(since) = since
        && asked < since
    {
        return Err(format!(
            "effective_date {asked} is before the student joined their current class ({since})"
        ));
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn given_an_asked_date_then_it_takes_effect_within_the_enrolment_up_to_today() {
        let today = date!(2025 - 11 - 20);
        let year = "2025-2026";
        // (asked, the current class began, the date it takes effect or the refusal)
        type Row = (Option<Date>, Option<Date>, Result<Date, &'static str>);
        let table: [Row; 7] = [
            (None, None, Ok(today)),
            (None, Some(date!(2025 - 10 - 01)), Ok(today)),
            (Some(date!(2025 - 11 - 03)), None, Ok(date!(2025 - 11 - 03))),
            (Some(today), None, Ok(today)),
            (Some(date!(2025 - 11 - 21)), None, Err("after today")),
            (
                Some(date!(2025 - 07 - 31)),
                None,
                Err("before the school year"),
            ),
            (
                Some(date!(2025 - 10 - 01)),
                Some(date!(2025 - 10 - 15)),
                Err("before the student joined"),
            ),
        ];
        for (asked, since, expected) in table {
            let got = effective_on(asked, today, year, since);
            match (expected, got) {
                (Ok(expected), Ok(got)) => assert_eq!(got, expected, "{asked:?}"),
                (Err(says), Err(reason)) => assert!(reason.contains(says), "{asked:?}: {reason}"),
                (expected, got) => panic!("{asked:?} {since:?}: {got:?}, expected {expected:?}"),
            }
        }
    }
}
