//! `lienlac bench reset`: removes a benchmark's own system, its database and its
//! namespace's streams, so that the next run starts from nothing.

use anyhow::Context as _;
use async_nats::jetstream;
use futures::TryStreamExt as _;
use sqlx::ConnectOptions as _;
use sqlx::postgres::PgConnectOptions;

pub(crate) async fn reset(
    nats_url: &str,
    namespace: &str,
    database_url: &str,
) -> anyhow::Result<()> {
    // Production runs without a namespace: never remove its streams.
    anyhow::ensure!(
        !namespace.is_empty()
            && namespace
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "a benchmark system has its own namespace (--namespace, a-z, 0-9 and _); refusing to remove production's streams"
    );
    let options: PgConnectOptions = database_url
        .parse()
        .context("--database-url is not a Postgres URL")?;
    let database = options
        .get_database()
        .context("--database-url names no database")?
        .to_owned();
    // Only a database named for the namespace, such as lienlac_bench, is the
    // benchmark's own.
    anyhow::ensure!(
        database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && database.contains(namespace),
        "refusing to drop the database {database:?}: a benchmark's database is named for its namespace ({namespace})"
    );
    let mut server = options
        .database("postgres")
        .connect()
        .await
        .context("connecting to Postgres")?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
    )))
    .execute(&mut server)
    .await
    .with_context(|| format!("dropping the database {database}"))?;

    let client = crate::nats::connect(nats_url).await?;
    let jetstream = jetstream::new(client);
    // `BENCH_LIENLAC_…`: every stream of the namespace and no other's.
    let prefix = crate::events::stream_name(namespace, "");
    let names: Vec<String> = jetstream.stream_names().try_collect().await?;
    for name in names.into_iter().filter(|name| name.starts_with(&prefix)) {
        jetstream
            .delete_stream(&name)
            .await
            .with_context(|| format!("deleting the stream {name}"))?;
    }
    eprintln!("removed the database {database} and the streams {prefix}*");
    Ok(())
}
