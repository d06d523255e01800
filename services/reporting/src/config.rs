//! The reporting service's settings: the kernel's, plus the thresholds its reports
//! judge by.

use kernel::config::{ConfigError, Env, KernelConfig, ServiceId};
use time::Time;

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
    /// Sessions absent in a school year past which a secondary student repeats it.
    pub absence_limit: i32,
    /// Sessions absent from which a student's standing is a warning.
    pub absence_warn_from: i32,
    /// The share of school days a homeroom teacher must take attendance on to count
    /// as taking it regularly.
    pub regular_share: f64,
    /// Local times by which a roll call counts as on time, per session.
    pub morning_cutoff: Time,
    pub afternoon_cutoff: Time,
    /// Events per batch while rebuilding a read model.
    pub rebuild_batch_size: usize,
    /// Where attendance serves a student's record, for a guardian's copy of their
    /// child's data (`ATTENDANCE_URL`).
    pub attendance_url: String,
    /// Where messaging serves a guardian's conversations, for their copy of their
    /// child's data (`MESSAGING_URL`).
    pub messaging_url: String,
}

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self {
            kernel,
            absence_limit: 45,
            absence_warn_from: 30,
            regular_share: 0.9,
            morning_cutoff: Time::from_hms(9, 0, 0).unwrap_or(Time::MIDNIGHT),
            afternoon_cutoff: Time::from_hms(14, 30, 0).unwrap_or(Time::MIDNIGHT),
            rebuild_batch_size: 1000,
            attendance_url: format!("http://127.0.0.1:{}", ServiceId::ATTENDANCE.grpc_port),
            messaging_url: format!("http://127.0.0.1:{}", ServiceId::MESSAGING.grpc_port),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let mut settings = Self::defaults(KernelConfig::from_lookup(ServiceId::REPORTING, lookup)?);
        let env = Env(&lookup);
        env.parse("REPORTING_ABSENCE_LIMIT", &mut settings.absence_limit)?;
        env.parse(
            "REPORTING_ABSENCE_WARN_FROM",
            &mut settings.absence_warn_from,
        )?;
        env.parse("REPORTING_REGULAR_SHARE", &mut settings.regular_share)?;
        env.parse(
            "REPORTING_REBUILD_BATCH_SIZE",
            &mut settings.rebuild_batch_size,
        )?;
        if let Some(url) = env.text("ATTENDANCE_URL") {
            settings.attendance_url = url;
        }
        if let Some(url) = env.text("MESSAGING_URL") {
            settings.messaging_url = url;
        }
        for (name, into) in [
            ("REPORTING_MORNING_CUTOFF", &mut settings.morning_cutoff),
            ("REPORTING_AFTERNOON_CUTOFF", &mut settings.afternoon_cutoff),
        ] {
            if let Some(text) = env.text(name) {
                *into = parse_clock(&text).ok_or_else(|| ConfigError {
                    name: name.to_owned(),
                    reason: format!("{text:?} is not a local time HH:MM"),
                })?;
            }
        }
        if !(0.0..=1.0).contains(&settings.regular_share) {
            return Err(ConfigError {
                name: "REPORTING_REGULAR_SHARE".to_owned(),
                reason: "must be between 0 and 1".to_owned(),
            });
        }
        Ok(settings)
    }
}

/// `HH:MM`.
pub(crate) fn parse_clock(text: &str) -> Option<Time> {
    let (hours, minutes) = text.trim().split_once(':')?;
    Time::from_hms(hours.parse().ok()?, minutes.parse().ok()?, 0).ok()
}

pub(crate) fn format_clock(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}
