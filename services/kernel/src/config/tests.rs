use std::collections::HashMap;

use secrecy::ExposeSecret as _;

use super::*;

fn config_with(vars: &[(&str, &str)]) -> Result<KernelConfig, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    KernelConfig::from_lookup(ServiceId::ATTENDANCE, |name| vars.get(name).cloned())
}

#[test]
fn defaults_follow_the_architecture_ports_and_stream_names() {
    let config = config_with(&[]).unwrap();
    assert_eq!((config.grpc_port, config.metrics_port), (50052, 9102));
    assert_eq!(config.schema, "attendance");
    assert_eq!(config.stream_name(), "LIENLAC_ATTENDANCE");
    assert_eq!(config.subject_root(), "lienlac.attendance.v2");
    assert_eq!(config.subject_prefix(), "lienlac.attendance");
    assert!(
        config.metrics_bind_address.is_loopback(),
        "metrics and health are not for strangers unless opened"
    );
    let opened = config_with(&[("LIENLAC_METRICS_BIND_ADDRESS", "0.0.0.0")]).unwrap();
    assert!(opened.metrics_bind_address.is_unspecified());
}

#[test]
fn service_variables_override_the_defaults() {
    let config = config_with(&[
        ("ATTENDANCE_GRPC_PORT", "6000"),
        ("LIENLAC_STREAM_MAX_AGE", "30d"),
        ("LIENLAC_RELAY_POLL_INTERVAL", "5ms"),
    ])
    .unwrap();
    assert_eq!(config.grpc_port, 6000);
    assert_eq!(config.stream.max_age, Duration::from_secs(30 * 86_400));
    assert_eq!(config.relay.poll_interval, Duration::from_millis(5));
}

#[test]
fn each_service_connects_as_its_own_role_unless_told_otherwise() {
    let url = |config: KernelConfig| config.database_url.expose_secret().to_owned();
    assert_eq!(
        url(config_with(&[]).unwrap()),
        "postgres://lienlac_attendance@127.0.0.1:5432/lienlac"
    );
    let shared = "postgres://app@db.example/lienlac";
    assert_eq!(
        url(config_with(&[("DATABASE_URL", shared)]).unwrap()),
        shared
    );
    let own = "postgres://attendance@db.example/lienlac";
    let both = config_with(&[("DATABASE_URL", shared), ("ATTENDANCE_DATABASE_URL", own)]);
    assert_eq!(url(both.unwrap()), own);
    let other = config_with(&[("IDENTITY_DATABASE_URL", own)]).unwrap();
    assert_eq!(
        url(other),
        "postgres://lienlac_attendance@127.0.0.1:5432/lienlac"
    );
}

#[test]
fn a_bad_variable_is_named_in_the_error() {
    let error = config_with(&[("ATTENDANCE_GRPC_PORT", "eighty")]).unwrap_err();
    assert_eq!(error.name, "ATTENDANCE_GRPC_PORT");
    let error = config_with(&[("LIENLAC_STREAM_DUPLICATE_WINDOW", "2 minutes")]).unwrap_err();
    assert_eq!(error.name, "LIENLAC_STREAM_DUPLICATE_WINDOW");
    let error = config_with(&[("ATTENDANCE_DB_SCHEMA", "drop table")]).unwrap_err();
    assert_eq!(error.name, "ATTENDANCE_DB_SCHEMA");
    let error = config_with(&[("LIENLAC_NAMESPACE", "a.b")]).unwrap_err();
    assert_eq!(error.name, "LIENLAC_NAMESPACE");
}

#[test]
fn a_namespace_prefixes_streams_and_subjects() {
    let mut config = config_with(&[]).unwrap();
    config.namespace = "t01abc".to_owned();
    assert_eq!(config.stream_name(), "T01ABC_LIENLAC_ATTENDANCE");
    let config = config_with(&[("LIENLAC_NAMESPACE", "t01abc")]).unwrap();
    assert_eq!(config.stream_name(), "T01ABC_LIENLAC_ATTENDANCE");
    assert_eq!(config.subject_root(), "t01abc.lienlac.attendance.v2");
    assert_eq!(config.subject_prefix(), "t01abc.lienlac.attendance");
}

#[test]
fn a_retention_shorter_than_a_day_is_refused_by_name() {
    let config = config_with(&[("LIENLAC_RETENTION_REQUESTS", "90d")]).unwrap();
    assert_eq!(
        config.retention.requests,
        Duration::from_secs(90 * 24 * 3600)
    );
    let error = config_with(&[("LIENLAC_RETENTION_INBOX", "2h")]).unwrap_err();
    assert_eq!(error.name, "LIENLAC_RETENTION_INBOX");
}
