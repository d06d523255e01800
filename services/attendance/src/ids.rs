//! Ids as events carry them: text, empty when absent.

use uuid::Uuid;

/// An id that may be absent (`""`).
pub(crate) fn optional(text: &str) -> anyhow::Result<Option<Uuid>> {
    Ok(if text.is_empty() {
        None
    } else {
        Some(text.parse()?)
    })
}
