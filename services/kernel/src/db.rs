//! Postgres connections and migrations. Each service owns one schema; its pool sets
//! `search_path` to that schema on every connection, so the kernel's tables and the
//! service's own are written unqualified and a test can run a whole service in a
//! schema of its own.

use std::str::FromStr;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::config::KernelConfig;

/// The kernel's own tables (events, requests, relay checkpoint, inbox, dead letters),
/// created in every service schema before the service's migrations.
static KERNEL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// `[a-z_][a-z0-9_]*`, at most 48 bytes: safe to splice into DDL as an identifier.
pub fn check_identifier(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 48 {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a lowercase identifier ([a-z_][a-z0-9_]*, at most 48 characters)"
        ))
    }
}

/// Every connection runs without JIT: the services' statements are short, and
/// where statistics are stale (a table grown since it was last analyzed) their
/// estimated costs pass `jit_above_cost`, and compiling a plan then costs far more
/// than running it (a class roster's guardian counts in reporting: 169 ms with
/// JIT, 0.6 ms without).
fn connect_options(config: &KernelConfig) -> anyhow::Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(config.database_url.expose_secret())
        .context("DATABASE_URL is not a valid Postgres URL")?;
    Ok(options
        .application_name(&format!("lienlac-{}", config.service.name))
        .options([("jit", "off")]))
}

/// Creates the database named in the URL when it is missing, through the
/// server's `postgres` maintenance database. A service's own role cannot create
/// databases: where the database is missing, this fails and says so.
pub async fn ensure_database(config: &KernelConfig) -> anyhow::Result<()> {
    let options = connect_options(config)?;
    let Some(database) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    match options.connect().await {
        Ok(conn) => {
            conn.close().await.ok();
            return Ok(());
        }
        // invalid_catalog_name: the database is missing.
        Err(error) if has_sqlstate(&error, &["3D000"]) => {}
        Err(error) => {
            return Err(error).with_context(|| {
                format!(
                    "connecting to database {database} as {} (deploy/local/stack.sh up creates each service's role)",
                    options.get_username()
                )
            });
        }
    }
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to the postgres maintenance database")?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&database)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = database.replace('"', "\"\"");
        let create = format!("CREATE DATABASE \"{quoted}\"");
        // Two services starting together may race to create it; the loser is fine.
        run_ddl(&mut admin, create, &["42P04", "23505"])
            .await
            .context("creating the database")?;
        tracing::info!(database = %database, "created database");
    }
    admin.close().await.ok();
    Ok(())
}

/// Has Postgres end `conn`'s session once it has been silent for `silence`: a
/// leader holding a session advisory lock (the outbox relay's, a consumer's)
/// whose process is paused or cut off loses the lock then, and a standby takes
/// over.
pub(crate) async fn end_session_when_silent(
    conn: &mut PgConnection,
    silence: std::time::Duration,
) -> sqlx::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SET idle_session_timeout = {}",
        silence.as_millis()
    )))
    .execute(conn)
    .await
    .map(drop)
}

/// A pool whose connections all resolve unqualified names in `config.schema`.
pub async fn connect(config: &KernelConfig) -> anyhow::Result<PgPool> {
    connect_with_search_path(config, &[&config.schema], config.db_max_connections).await
}

/// A pool whose connections resolve unqualified names through `schemas`, in order
/// (a service whose read models live in schemas of their own, beside its main one).
pub async fn connect_with_search_path(
    config: &KernelConfig,
    schemas: &[&str],
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    for schema in schemas {
        check_identifier(schema).map_err(anyhow::Error::msg)?;
    }
    let search_path = schemas.join(",");
    let options = connect_options(config)?.options([("search_path", search_path.as_str())]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("connecting to Postgres")
}

/// Creates the schema if missing, then applies the kernel's migrations followed by
/// the service's own (`sqlx::migrate!()` in the service crate), in version order.
pub async fn migrate(pool: &PgPool, schema: &str, service: &Migrator) -> anyhow::Result<()> {
    check_identifier(schema).map_err(anyhow::Error::msg)?;
    {
        let mut conn = pool.acquire().await.context("acquiring a connection")?;
        ensure_schema(&mut conn, schema).await?;
    }
    let mut all: Vec<_> = KERNEL_MIGRATIONS
        .iter()
        .chain(service.iter())
        .cloned()
        .collect();
    all.sort_by_key(|migration| migration.version);
    Migrator::with_migrations(all)
        .run(pool)
        .await
        .with_context(|| {
            format!(
                "migrating schema {schema} (it must be owned by the role this service connects as)"
            )
        })
}

/// Creates `schema` unless it exists. A service's role may create schemas only
/// where it has been granted CREATE on the database, so an existing schema is
/// looked up rather than created "if not exists".
pub async fn ensure_schema(conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
    check_identifier(schema).map_err(anyhow::Error::msg)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("looking up schema {schema}"))?;
    if exists {
        return Ok(());
    }
    // Concurrent CREATE SCHEMA IF NOT EXISTS can still collide in the catalog.
    run_ddl(
        conn,
        format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
        &["42P06", "23505"],
    )
    .await
    .with_context(|| format!("creating schema {schema}"))
}

/// Runs a DDL statement built from checked identifiers; failing with one of
/// `already_there` (SQLSTATEs) counts as done.
async fn run_ddl(
    conn: &mut PgConnection,
    sql: String,
    already_there: &[&str],
) -> Result<(), sqlx::Error> {
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(conn).await {
        Err(error) if !has_sqlstate(&error, already_there) => Err(error),
        _ => Ok(()),
    }
}

/// Whether Postgres failed `error` with one of `codes` (SQLSTATE).
/// Takes the transaction-scoped advisory lock named `key` (waiting for it): writers
/// of one aggregate take turns without a row to lock, until the transaction ends.
pub async fn lock_until_commit(conn: &mut PgConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

pub fn has_sqlstate(error: &sqlx::Error, codes: &[&str]) -> bool {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| codes.contains(&code.as_ref()))
}

/// Drops a schema and everything in it (tests and projection rebuilds).
pub async fn drop_schema(conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
    check_identifier(schema).map_err(anyhow::Error::msg)?;
    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(conn)
        .await
        .with_context(|| format!("dropping schema {schema}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_identifier;

    #[test]
    fn only_plain_lowercase_identifiers_are_accepted() {
        assert!(check_identifier("attendance").is_ok());
        assert!(check_identifier("t01jd9_attendance").is_ok());
        assert!(check_identifier("Attendance").is_err());
        assert!(check_identifier("a; drop table x").is_err());
        assert!(check_identifier("").is_err());
        assert!(check_identifier("9lives").is_err());
    }
}
