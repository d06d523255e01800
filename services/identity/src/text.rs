//! Vietnamese text and numbers as the directory keeps them: names NFC-normalised
//! with their diacritics, a folded form for search, and mobile numbers in one form.

use kernel::grpc::Violation;

/// A person's or school's name: NFC (keyboards that send NFD are accepted), spaces
/// collapsed, at most `max_chars` characters.
pub fn name(field: &str, raw: &str, max_chars: usize) -> Result<String, Violation> {
    let collapsed = school::text::tidy_name(raw);
    if collapsed.is_empty() {
        return Err(Violation::required(field));
    }
    if collapsed.chars().count() > max_chars {
        return Err(Violation::new(
            field,
            format!("must be at most {max_chars} characters"),
            format!("không được dài quá {max_chars} ký tự"),
        ));
    }
    if collapsed.chars().any(char::is_control) {
        return Err(Violation::new(
            field,
            "must not contain control characters",
            "không được chứa ký tự điều khiển",
        ));
    }
    Ok(collapsed)
}

pub(crate) use school::text::mobile_digits;

/// The E.164 form, `+84912345678`, of a Vietnamese mobile number.
pub fn phone(field: &str, raw: &str) -> Result<String, Violation> {
    if raw.trim().is_empty() {
        return Err(Violation::required(field));
    }
    school::text::e164(raw).ok_or_else(|| {
        Violation::new(
            field,
            "must be a Vietnamese mobile number such as 0912345678",
            "phải là số điện thoại di động Việt Nam, ví dụ 0912345678",
        )
    })
}

/// The username of a person with a phone: the number as people write it at home,
/// `0912345678`.
pub fn phone_username(e164: &str) -> String {
    format!("0{}", e164.trim_start_matches("+84"))
}

/// What someone typed as a username: a phone number in any form becomes the
/// phone username; anything else is lowercased.
pub fn username(raw: &str) -> String {
    let trimmed = raw.trim();
    match mobile_digits(trimmed) {
        Some(digits) => format!("0{digits}"),
        None => trimmed.to_lowercase(),
    }
}

/// A username chosen by an administrator (`ht.tanthong`): lowercase ASCII letters,
/// digits, '.', '_' and '-', with a letter, so that it never reads as a phone number.
pub fn chosen_username(field: &str, raw: &str) -> Result<String, Violation> {
    let name = raw.trim().to_lowercase();
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
    let valid = (3..=32).contains(&name.len())
        && name.chars().all(allowed)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().any(|c| c.is_ascii_lowercase());
    if valid {
        Ok(name)
    } else {
        Err(Violation::new(
            field,
            "a username is 3 to 32 of a-z, 0-9, '.', '_', '-', starting with a letter or a digit and holding a letter",
            "tên đăng nhập gồm 3–32 ký tự a-z, 0-9, '.', '_', '-', bắt đầu bằng chữ hoặc số và có ít nhất một chữ cái",
        ))
    }
}

/// `YYYY-MM-DD`.
pub fn date(field: &str, raw: &str) -> Result<time::Date, Violation> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw.trim(), &format).map_err(|_| {
        Violation::new(
            field,
            "must be a date written YYYY-MM-DD",
            "phải là ngày theo dạng YYYY-MM-DD",
        )
    })
}

/// `2025-2026`: two consecutive years.
pub fn school_year(field: &str, raw: &str) -> Result<String, Violation> {
    let raw = raw.trim();
    let valid = raw
        .split_once('-')
        .and_then(|(start, end)| Some((start.parse::<i32>().ok()?, end.parse::<i32>().ok()?)))
        .is_some_and(|(start, end)| (2000..2100).contains(&start) && end == start + 1)
        && raw.len() == 9;
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(Violation::new(
            field,
            "must be a school year such as 2025-2026",
            "phải là năm học, ví dụ 2025-2026",
        ))
    }
}

/// A code from the city DB (school code, student code): letters, digits, `-`, `_`, `.`.
/// An [`external_ref`] a request may leave empty: `None` then.
pub fn optional_external_ref(field: &str, raw: &str) -> Result<Option<String>, Violation> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        external_ref(field, raw).map(Some)
    }
}

pub fn external_ref(field: &str, raw: &str) -> Result<String, Violation> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Violation::required(field));
    }
    let valid = raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(Violation::new(
            field,
            "must be at most 64 letters, digits, '-', '_' or '.'",
            "chỉ gồm tối đa 64 chữ cái, chữ số, '-', '_' hoặc '.'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use unicode_normalization::UnicodeNormalization as _;

    use super::*;

    #[test]
    fn names_typed_in_nfd_are_stored_in_nfc() {
        let nfd: String = "Nguyễn Thị Ánh".nfd().collect();
        assert_ne!(nfd, "Nguyễn Thị Ánh");
        assert_eq!(
            name("full_name", &format!("  {nfd}  "), 100).unwrap(),
            "Nguyễn Thị Ánh"
        );
        assert!(name("full_name", "   ", 100).is_err());
    }

    #[test]
    fn the_usual_forms_of_one_mobile_number_are_one_number() {
        for form in [
            "+84 912 345 678",
            "0912345678",
            "84912345678",
            "091.234.5678",
            "+84-912-345-678",
        ] {
            assert_eq!(phone("phone", form).unwrap(), "+84912345678", "{form}");
            assert_eq!(username(form), "0912345678", "{form}");
        }
        for bad in [
            "",
            "12345",
            "0212345678",
            "+1 415 555 0100",
            "09123456789",
            "091234567a",
        ] {
            assert!(phone("phone", bad).is_err(), "{bad}");
        }
        assert_eq!(phone_username("+84912345678"), "0912345678");
        assert_eq!(username("  Admin "), "admin");
    }

    #[test]
    fn school_years_are_two_consecutive_years() {
        assert!(school_year("school_year", "2025-2026").is_ok());
        assert!(school_year("school_year", "2025-2027").is_err());
        assert!(school_year("school_year", "25-26").is_err());
    }
}
