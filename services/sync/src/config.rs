//! The sync service's settings: the kernel's, the city database it mirrors, and
//! the secret identity knows it by (docs/configuration.md, docs/sync.md).

use std::time::Duration;

use kernel::config::{ConfigError, Env, KernelConfig, ServiceId};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Settings {
    pub kernel: KernelConfig,
    /// The secret identity knows the sync service by (`SYNC_SERVICE_SECRET`, the
    /// `sync=` entry of identity's `IDENTITY_SERVICE_SECRETS`): the mirror writes
    /// the directory with its own token. Without it no run starts.
    pub service_secret: Option<SecretString>,
    /// The city database; no run starts without it.
    pub citydb: Option<CityDbSettings>,
    /// How long a run's plan (whose details name people) is kept (`SYNC_KEEP_PLANS_FOR`; 30 days).
    pub keep_plans_for: Duration,
    /// Where files a run may read are dropped (`SYNC_DROP_DIR`; `.local/sync/drop`):
    /// OneRoster zips a district's other school systems send.
    pub drop_dir: std::path::PathBuf,
    /// Scheduled runs of mirrored districts: incremental every
    /// `SYNC_INCREMENTAL_EVERY` (15 minutes; `0s` for none), a full one nightly at
    /// `SYNC_NIGHTLY_AT` (local `02:00`; `off` for none).
    pub schedule: crate::Schedule,
    /// How often month-end totals due are looked for (`SYNC_PUSH_EVERY`; 5 s).
    pub push_every: Duration,
    /// How long a replica holds a run it carries out without renewing it
    /// (`SYNC_RUN_LEASE`; 30 s): a run whose replica died resumes after this.
    pub run_lease: Duration,
    /// Runs one replica carries out at once (`SYNC_RUN_WORKERS`; 2): a city
    /// mirrored unit by unit keeps the directory's services busy with several.
    pub run_workers: usize,
}

/// The city database's API (source/citydb.rs).
#[derive(Debug, Clone)]
pub struct CityDbSettings {
    /// `SYNC_CITYDB_URL`, such as `https://csdl.hcm.edu.vn`.
    pub url: String,
    /// `SYNC_CITYDB_CLIENT_ID`, `SYNC_CITYDB_CLIENT_SECRET`: lienlac's OAuth 2.0 client.
    pub client_id: String,
    pub client_secret: SecretString,
    /// `SYNC_CITYDB_TIMEOUT`: one request's limit (10 s).
    pub timeout: Duration,
    /// `SYNC_CITYDB_ATTEMPTS`: tries of one request before the run fails (8).
    pub attempts: u32,
    /// Items per page asked for (`SYNC_CITYDB_PAGE`; 500).
    pub page: usize,
}

impl CityDbSettings {
    pub fn new(url: &str, client_id: &str, client_secret: SecretString) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            timeout: Duration::from_secs(10),
            attempts: 8,
            page: 500,
        }
    }
}

impl Settings {
    pub fn defaults(kernel: KernelConfig) -> Self {
        Self {
            kernel,
            service_secret: None,
            citydb: None,
            keep_plans_for: Duration::from_secs(30 * 24 * 3600),
            run_lease: Duration::from_secs(30),
            run_workers: 2,
            drop_dir: std::path::PathBuf::from(".local/sync/drop"),
            push_every: Duration::from_secs(5),
            schedule: crate::Schedule {
                incremental_every: Some(Duration::from_secs(15 * 60)),
                nightly_at: time::Time::from_hms(2, 0, 0).ok(),
            },
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        let mut settings = Self::defaults(KernelConfig::from_lookup(ServiceId::SYNC, lookup)?);
        let env = Env(&lookup);
        settings.service_secret = env.text("SYNC_SERVICE_SECRET").map(SecretString::from);
        env.duration("SYNC_KEEP_PLANS_FOR", &mut settings.keep_plans_for)?;
        env.duration("SYNC_RUN_LEASE", &mut settings.run_lease)?;
        env.duration("SYNC_PUSH_EVERY", &mut settings.push_every)?;
        env.parse("SYNC_RUN_WORKERS", &mut settings.run_workers)?;
        if settings.run_workers == 0 {
            return Err(ConfigError {
                name: "SYNC_RUN_WORKERS".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        if let Some(every) = settings.schedule.incremental_every.as_mut() {
            env.duration("SYNC_INCREMENTAL_EVERY", every)?;
        }
        settings.schedule.incremental_every = settings
            .schedule
            .incremental_every
            .filter(|every| !every.is_zero());
        if let Some(text) = env.text("SYNC_NIGHTLY_AT") {
            settings.schedule.nightly_at = match text.as_str() {
                "off" => None,
                text => Some(parse_clock(text).ok_or_else(|| ConfigError {
                    name: "SYNC_NIGHTLY_AT".to_owned(),
                    reason: format!("{text:?} is not a local time HH:MM, or off"),
                })?),
            };
        }
        if let Some(dir) = env.text("SYNC_DROP_DIR") {
            settings.drop_dir = dir.into();
        }
        if let Some(url) = env.text("SYNC_CITYDB_URL") {
            let required = |name: &str| {
                env.text(name).ok_or_else(|| ConfigError {
                    name: name.to_owned(),
                    reason: "is required with SYNC_CITYDB_URL".to_owned(),
                })
            };
            let mut citydb = CityDbSettings::new(
                &url,
                &required("SYNC_CITYDB_CLIENT_ID")?,
                SecretString::from(required("SYNC_CITYDB_CLIENT_SECRET")?),
            );
            env.duration("SYNC_CITYDB_TIMEOUT", &mut citydb.timeout)?;
            env.parse("SYNC_CITYDB_ATTEMPTS", &mut citydb.attempts)?;
            env.parse("SYNC_CITYDB_PAGE", &mut citydb.page)?;
            settings.citydb = Some(citydb);
        }
        Ok(settings)
    }
}

/// `HH:MM`.
fn parse_clock(text: &str) -> Option<time::Time> {
    let (hours, minutes) = text.split_once(':')?;
    time::Time::from_hms(hours.parse().ok()?, minutes.parse().ok()?, 0).ok()
}
