//! CSV cells made safe for the spreadsheets people open our files in.

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
    use super::spreadsheet_safe;

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
}
