//! Vietnamese text as services compare and name things, and text made safe for
//! the spreadsheets people open our CSV files in.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

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

/// A CSV cell that a spreadsheet program shows as the text it is: one that begins
/// with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula
/// (OWASP's "CSV injection"), so it gets a leading apostrophe.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::{fold, spreadsheet_safe};

    #[test]
    fn cells_that_a_spreadsheet_would_run_as_formulas_are_kept_as_text() {
        let table = [
            (
                "=HYPERLINK(\"http://x\",\"a\")",
                "'=HYPERLINK(\"http://x\",\"a\")",
            ),
            ("+84912345678", "'+84912345678"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Nguyễn Thị Ánh", "Nguyễn Thị Ánh"),
            ("a=b", "a=b"),
            ("", ""),
        ];
        for (cell, shown) in table {
            assert_eq!(spreadsheet_safe(cell), shown, "{cell:?}");
        }
    }

    #[test]
    fn folding_drops_diacritics_and_case() {
        assert_eq!(fold("Nguyễn Thị Ánh"), "nguyen thi anh");
        assert_eq!(fold("ĐẶNG  Văn Đức"), "dang van duc");
    }
}
