//! The password policy, as pure rules: long enough, not too long to hash on every
//! path (sign-in included), not one of the passwords people pick most often
//! (`data/common-passwords.txt`), not a date, and not the account's own username
//! or phone number.

use std::collections::HashSet;
use std::sync::LazyLock;

use kernel::grpc::Violation;

use crate::text;

/// The longest password accepted anywhere, so that nobody makes the server hash
/// megabytes.
pub(crate) const MAX_LENGTH: usize = 128;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|line| !line.is_empty())
        .collect()
});

#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_length: usize,
}

impl PasswordPolicy {
    /// Whether `password` may become the password of an account whose username,
    /// phone number and the like are `personal`.
    pub(crate) fn check_new(
        &self,
        field: &str,
        password: &str,
        personal: &[&str],
    ) -> Result<(), Violation> {
        check_length(field, password)?;
        if password.chars().count() < self.min_length {
            return Err(Violation::new(
                field,
                format!("must be at least {} characters", self.min_length),
                format!("phải có ít nhất {} ký tự", self.min_length),
            ));
        }
        if is_common(password) {
            return Err(Violation::new(
                field,
                "is one of the most common passwords; choose another",
                "là mật khẩu quá phổ biến; hãy chọn mật khẩu khác",
            ));
        }
        if is_date(password) {
            return Err(Violation::new(
                field,
                "must not be a date",
                "không được là một ngày tháng",
            ));
        }
        if personal.iter().any(|known| same_as(password, known)) {
            return Err(Violation::new(
                field,
                "must not be your username or phone number",
                "không được trùng tên đăng nhập hoặc số điện thoại",
            ));
        }
        Ok(())
    }
}

/// The length limit alone, for every path that takes a password (sign-in too).
pub(crate) fn check_length(field: &str, password: &str) -> Result<(), Violation> {
    if password.is_empty() {
        return Err(Violation::required(field));
    }
    if password.chars().count() > MAX_LENGTH {
        return Err(Violation::new(
            field,
            format!("must be at most {MAX_LENGTH} characters"),
            format!("không được dài quá {MAX_LENGTH} ký tự"),
        ));
    }
    Ok(())
}

/// Listed, or one character over and over (`99999999`, `aaaaaaaa`).
fn is_common(password: &str) -> bool {
    let mut chars = password.chars();
    let first = chars.next();
    chars.all(|c| Some(c) == first) || COMMON.contains(password.to_lowercase().as_str())
}

/// Six or eight digits, separators aside, that read as a day: `010190`,
/// `01011990`, `1990-01-01`, `01/31/1990`.
fn is_date(password: &str) -> bool {
    let digits: String = password
        .chars()
        .filter(|c| !matches!(c, '/' | '-' | '.' | ' '))
        .collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let number = |range: std::ops::Range<usize>| digits[range].parse::<u32>().unwrap_or(0);
    let day_month = |day: u32, month: u32| (1..=31).contains(&day) && (1..=12).contains(&month);
    let year = |year: u32| (1900..=2099).contains(&year);
    match digits.len() {
        6 => {
            day_month(number(0..2), number(2..4))
                || day_month(number(2..4), number(0..2))
                || day_month(number(4..6), number(2..4))
        }
        8 => {
            (day_month(number(0..2), number(2..4)) && year(number(4..8)))
                || (day_month(number(2..4), number(0..2)) && year(number(4..8)))
                || (year(number(0..4)) && day_month(number(6..8), number(4..6)))
        }
        _ => false,
    }
}

/// Equal ignoring case and separators, or the same mobile number in another form.
fn same_as(password: &str, known: &str) -> bool {
    if known.is_empty() {
        return false;
    }
    let plain = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_alphanumeric() || *c == '+')
            .flat_map(char::to_lowercase)
            .collect()
    };
    if plain(password) == plain(known) {
        return true;
    }
    matches!(
        (text::mobile_digits(password), text::mobile_digits(known)),
        (Some(a), Some(b)) if a == b
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy { min_length: 8 };

    #[test]
    fn the_policy_refuses_what_it_should_and_accepts_the_rest() {
        let personal = ["0912345678", "+84912345678"];
        let table: &[(&str, bool, &str)] = &[
            ("short", false, "too short"),
            (&"x".repeat(129), false, "too long"),
            (&"ưa".repeat(64), true, "128 characters, not bytes"),
            ("password", false, "the most common"),
            ("Password1", false, "common, whatever the case"),
            ("matkhau123", false, "Vietnamese favourite"),
            ("anhyeuem", false, "Vietnamese favourite"),
            ("nguyen@123", false, "a family name and a suffix"),
            ("01011990", false, "ddmmyyyy"),
            ("1990-12-31", false, "yyyy-mm-dd"),
            ("12/31/1990", false, "mm/dd/yyyy"),
            ("311290", false, "ddmmyy"),
            ("0912345678", false, "the phone number"),
            ("+84 912 345 678", false, "the phone number in another form"),
            ("lienlac-demo", true, "not common"),
            ("hoa sen trắng 7", true, "a passphrase"),
            ("99999999", false, "one digit over and over"),
            ("aaaaaaaaaa", false, "one letter over and over"),
            ("43219876", true, "digits that are no date"),
        ];
        for (password, accepted, why) in table {
            assert_eq!(
                POLICY
                    .check_new("new_password", password, &personal)
                    .is_ok(),
                *accepted,
                "{password}: {why}"
            );
        }
    }

    #[test]
    fn a_password_equal_to_the_username_is_refused() {
        assert!(
            POLICY
                .check_new("new_password", "GV.TanThong.1A1", &["gv.tanthong.1a1"])
                .is_err()
        );
        assert!(
            POLICY
                .check_new("new_password", "gv.tanthong.1a1-ok", &["gv.tanthong.1a1"])
                .is_ok()
        );
    }

    #[test]
    fn the_shipped_list_has_the_common_and_the_vietnamese_favourites() {
        assert!(COMMON.len() >= 10_000, "{}", COMMON.len());
        for common in [
            "123456789",
            "qwertyuiop",
            "iloveyou",
            "matkhau",
            "anhyeuem123",
        ] {
            assert!(is_common(common), "{common}");
        }
    }
}
