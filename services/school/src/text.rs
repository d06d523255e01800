//! Vietnamese names and mobile numbers: as the directory keeps them (a name in
//! NFC with its diacritics, a number in one form), and as people search for them.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// A name as typed, tidied: NFC (keyboards that send NFD are accepted), runs of
/// spaces as one, none at either end.
pub fn tidy_name(raw: &str) -> String {
    let normalized: String = raw.nfc().collect();
    normalized.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A Vietnamese mobile number in any usual form (`+84 912 345 678`, `0912345678`,
/// `84912345678`, with spaces, dots or dashes), as its nine subscriber digits.
pub fn mobile_digits(raw: &str) -> Option<String> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let national = match digits.strip_prefix("+84") {
        Some(rest) => rest,
        None => match digits.strip_prefix("84").filter(|rest| rest.len() == 9) {
            Some(rest) => rest,
            None => digits.strip_prefix('0')?,
        },
    };
    let valid = national.len() == 9
        && national.chars().all(|c| c.is_ascii_digit())
        && matches!(national.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9');
    valid.then(|| national.to_owned())
}

/// The E.164 form, `+84912345678`, of a Vietnamese mobile number in any usual form.
pub fn e164(raw: &str) -> Option<String> {
    mobile_digits(raw).map(|digits| format!("+84{digits}"))
}

/// Lowercase without diacritics, for search: "Nguyễn Thị Ánh" → "nguyen thi anh".
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            other => other,
        })
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folding_drops_diacritics_and_case() {
        assert_eq!(fold("Nguyễn Thị Ánh"), "nguyen thi anh");
        assert_eq!(fold("ĐẶNG  Văn Đức"), "dang van duc");
    }
}
