//! Progress bars for long work (seeding, benchmarks), drawn on standard error
//! when it is a terminal and left out otherwise.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `length` steps of `what`.
pub(crate) fn bar(length: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>22} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}
