//! Typed settings from environment variables, and durations as people write them.

use std::time::Duration;

use super::ConfigError;

/// Reads typed settings through a lookup (the process environment, or a map in
/// tests), naming the variable when a value does not parse.
pub struct Env<'a, F: Fn(&str) -> Option<String>>(pub &'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    pub fn text(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    pub fn parse<T: std::str::FromStr>(&self, name: &str, into: &mut T) -> Result<(), ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        if let Some(raw) = self.text(name) {
            *into = raw.trim().parse().map_err(|error: T::Err| ConfigError {
                name: name.to_owned(),
                reason: error.to_string(),
            })?;
        }
        Ok(())
    }

    pub fn duration(&self, name: &str, into: &mut Duration) -> Result<(), ConfigError> {
        if let Some(raw) = self.text(name) {
            *into = parse_duration(raw.trim()).ok_or_else(|| ConfigError {
                name: name.to_owned(),
                reason: format!("{raw:?} is not a duration such as 250ms, 30s, 15m, 2h or 30d"),
            })?;
        }
        Ok(())
    }
}

/// `250ms`, `30s`, `15m`, `2h`, `30d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(Duration::from_millis(number.checked_mul(unit_ms)?))
}
