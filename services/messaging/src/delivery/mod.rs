//! Delivery beyond the app (docs/notifications.md): an absence notice is always
//! in the guardian's inbox and live stream; it also goes out on the channels the
//! guardian registered and chose and the school pays for (rules.rs), each a row
//! of `deliveries` moving queued → sent → delivered → read, or to failed (the
//! dead letters) after its retries. Rows are queued in the transaction that
//! raises the notice and sent by one loop per channel (worker.rs), so a channel's
//! outage holds only its own rows, and never the roll call. The notice's words
//! are made when it is sent, with the child's name asked of identity under the
//! service's own token, so a correction before then is what goes out.

pub(crate) mod compose;
pub(crate) mod devices;
pub(crate) mod email;
pub(crate) mod outcome;
pub(crate) mod push;
pub(crate) mod reports;
pub(crate) mod rules;
pub(crate) mod sms;
pub(crate) mod webhooks;
pub(crate) mod worker;
pub(crate) mod zalo;

use std::sync::Arc;
use std::time::Duration;

use school::service_identity::ServiceIdentity;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Ctx;
use crate::attachments::links::LinkKey;
use crate::config::DeliverySettings;
use devices::PushServices;
use push::vapid::VapidKey;
pub(crate) use rules::Channel;

/// Delivery beyond the app, on: what the RPCs check devices against, each
/// channel's sender, the providers' webhooks, and the service's identity its
/// workers name children with.
#[derive(Clone)]
pub(crate) struct Enabled {
    pub(crate) push_services: PushServices,
    pub(crate) vapid: VapidKey,
    /// The channels that are on, each with its pace (sends a second).
    senders: Vec<(worker::Sender, u32)>,
    pub(crate) webhooks: webhooks::Webhooks,
    service: Arc<ServiceIdentity>,
}

impl Enabled {
    /// On when the service's secret is configured; says which channels are.
    pub(crate) async fn start(
        pool: &PgPool,
        settings: &DeliverySettings,
        identity: &tonic::transport::Channel,
        key: &LinkKey,
        public_url: &str,
    ) -> anyhow::Result<Option<Self>> {
        let Some(secret) = settings.service_secret.clone() else {
            tracing::warn!(
                "notices stay in the app: delivery by push, email, Zalo and SMS is off until \
                 MESSAGING_SERVICE_SECRET is set"
            );
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        let vapid = VapidKey::load(pool, settings.push_contact.clone()).await?;
        let mut senders = vec![(
            worker::Sender::Push(push::Push {
                client: client.clone(),
                vapid: vapid.clone(),
                pool: pool.clone(),
            }),
            settings.push_per_second,
        )];
        match &settings.smtp_url {
            Some(url) => senders.push((
                worker::Sender::Email(email::Email::new(url, &settings.email_from, pool.clone())?),
                settings.email_per_second,
            )),
            None => tracing::warn!("email is off until MESSAGING_SMTP_URL is set"),
        }
        let sms = settings.sms.clone().map(|sms| sms::Sms {
            client: client.clone(),
            callback_url: (!public_url.is_empty())
                .then(|| format!("{public_url}{}", webhooks::Webhooks::sms_status_path(key))),
            settings: sms,
        });
        match &sms {
            Some(sms) => senders.push((worker::Sender::Sms(sms.clone()), sms.settings.per_second)),
            None => tracing::warn!("SMS is off until MESSAGING_SMS_URL is set"),
        }
        match settings.zalo.clone() {
            Some(zalo) => senders.push((
                worker::Sender::Zalo(zalo::Zalo {
                    client,
                    pool: pool.clone(),
                    settings: zalo.clone(),
                }),
                zalo.per_second,
            )),
            None => tracing::warn!("Zalo is off until MESSAGING_ZALO_APP_ID is set"),
        }
        let channels: Vec<&str> = senders.iter().map(|(s, _)| s.channel().name()).collect();
        tracing::info!(
            channels = channels.join(", "),
            "notices are delivered beyond the app"
        );
        Ok(Some(Self {
            push_services: PushServices(settings.push_services.clone()),
            vapid,
            senders,
            webhooks: webhooks::Webhooks {
                pool: pool.clone(),
                key: key.clone(),
                sms,
            },
            service: Arc::new(ServiceIdentity::new(identity.clone(), "messaging", secret)),
        }))
    }

    /// One SMS part's price, for what free delivery saves (the default when SMS
    /// is off).
    pub(crate) fn sms_price(&self) -> i64 {
        self.senders
            .iter()
            .find_map(|(sender, _)| match sender {
                worker::Sender::Sms(sms) => Some(i64::from(sms.settings.price_vnd)),
                _ => None,
            })
            .unwrap_or(i64::from(crate::config::DEFAULT_SMS_PRICE_VND))
    }

    /// Whether `channel` is on.
    pub(crate) fn has(&self, channel: Channel) -> bool {
        self.senders
            .iter()
            .any(|(sender, _)| sender.channel() == channel)
    }

    /// One sending loop per channel that is on.
    pub(crate) fn spawn_workers(&self, ctx: &Ctx, every: Duration, shutdown: CancellationToken) {
        for (sender, per_second) in &self.senders {
            let worker = worker::Worker {
                pool: ctx.pool.clone(),
                identity: ctx.identity.clone(),
                service: self.service.clone(),
                phone_key: ctx.links.key.clone(),
                sender: sender.clone(),
                per_second: *per_second,
            };
            tokio::spawn(worker::run(worker, every, shutdown.clone()));
        }
    }
}

/// One notice as a channel sends it.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The delivery: the provider's idempotency and tracking key.
    pub(crate) delivery: Uuid,
    pub(crate) notice_id: Uuid,
    pub(crate) recipient: Uuid,
    pub(crate) title: String,
    pub(crate) text: String,
    /// Where the app shows it.
    pub(crate) url: String,
    pub(crate) urgent: bool,
    /// The recipient's phone number, for the paid channels.
    pub(crate) phone: Option<String>,
    /// The notice's parts, for a provider's template (Zalo ZNS).
    pub(crate) template: Vec<(&'static str, String)>,
}

/// A statement's part that marks the recipient `$2`'s deliveries of item `$1`
/// (a notice, an announcement) read once they read it in the app.
pub(crate) const MARK_READ: &str = "read_beyond AS (UPDATE deliveries \
    SET state = 'read', read_at = coalesce(read_at, now()) \
    WHERE notice_id = $1 AND recipient_id = $2 AND state IN ('sent', 'delivered'))";

/// What a delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An absence notice (or its follow-up): urgent.
    AbsenceNotice = 1,
    /// An announcement: urgent only as an emergency.
    Announcement = 2,
}

/// A notice just raised for a guardian of a school.
pub(crate) struct Raised {
    pub(crate) notice: Uuid,
    pub(crate) guardian: Uuid,
    pub(crate) school: Uuid,
}

#[derive(sqlx::FromRow)]
struct ReachRow {
    guardian: Uuid,
    preferred: Option<Vec<i16>>,
    daily_digest: bool,
    push: bool,
    email: bool,
    has_account: bool,
    stopped: Vec<i16>,
    paid: Vec<i16>,
    fallback_minutes: i32,
}

/// Queues the deliveries of absence notices just raised, in the caller's
/// transaction.
pub(crate) async fn queue(conn: &mut PgConnection, raised: &[Raised]) -> anyhow::Result<()> {
    queue_items(
        conn,
        Kind::AbsenceNotice,
        raised,
        OffsetDateTime::now_utc(),
        true,
    )
    .await
}

/// Queues the deliveries of announcement `id` to its recipients from
/// `visible_at`, in the caller's transaction; a district's announcement counts
/// against each recipient's school (of a child of theirs in a class now).
pub(crate) async fn queue_announcement(
    conn: &mut PgConnection,
    id: Uuid,
    school: Option<Uuid>,
    visible_at: OffsetDateTime,
    emergency: bool,
) -> anyhow::Result<()> {
    // What is not urgent goes by push and email only: to the recipients who
    // registered a browser or an address, found from the (few) devices rather
    // than from every recipient.
    let who = if emergency {
        "SELECT r.guardian_id FROM announcement_recipients r WHERE r.announcement_id = $1"
    } else {
        "SELECT DISTINCT d.person_id FROM devices d JOIN announcement_recipients r \
         ON r.announcement_id = $1 AND r.guardian_id = d.person_id"
    };
    let recipients: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT w.guardian_id, coalesce($2, (SELECT c.school_id FROM guardianships g \
             JOIN enrolment_periods e ON e.student_id = g.student_id AND e.to_date IS NULL \
             JOIN classes c ON c.id = e.class_id WHERE g.guardian_id = w.guardian_id LIMIT 1)) \
         FROM ({who}) AS w(guardian_id)"
    )))
    .bind(id)
    .bind(school)
    .fetch_all(&mut *conn)
    .await?;
    let raised: Vec<Raised> = recipients
        .into_iter()
        .filter_map(|(guardian, school)| {
            Some(Raised {
                notice: id,
                guardian,
                school: school?,
            })
        })
        .collect();
    queue_items(conn, Kind::Announcement, &raised, visible_at, emergency).await
}

/// Queues the deliveries of `raised` items of `kind` shown from `from`, as the
/// recipients and their schools want them (rules.rs).
async fn queue_items(
    conn: &mut PgConnection,
    kind: Kind,
    raised: &[Raised],
    from: OffsetDateTime,
    urgent: bool,
) -> anyhow::Result<()> {
    if raised.is_empty() {
        return Ok(());
    }
    let guardians: Vec<Uuid> = raised.iter().map(|r| r.guardian).collect();
    let schools: Vec<Uuid> = raised.iter().map(|r| r.school).collect();
    let reaches: Vec<ReachRow> = sqlx::query_as(
        "SELECT g.guardian, p.channels AS preferred, coalesce(p.daily_digest, false) AS daily_digest, \
             EXISTS (SELECT 1 FROM devices d WHERE d.person_id = g.guardian AND d.channel = 1) AS push, \
             EXISTS (SELECT 1 FROM devices d WHERE d.person_id = g.guardian AND d.channel = 2) AS email, \
             EXISTS (SELECT 1 FROM activated_people a WHERE a.person_id = g.guardian) AS has_account, \
             coalesce((SELECT array_agg(s.channel) FROM channel_stops s WHERE s.person_id = g.guardian), '{}') AS stopped, \
             coalesce(sp.paid_channels, '{}') AS paid, coalesce(sp.fallback_minutes, 15) AS fallback_minutes \
         FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS g(guardian, school, i) \
         LEFT JOIN delivery_preferences p ON p.person_id = g.guardian \
         LEFT JOIN school_policies sp ON sp.school_id = g.school ORDER BY g.i",
    )
    .bind(&guardians)
    .bind(&schools)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = DeliveryRows::default();
    for (item, reach) in raised.iter().zip(&reaches) {
        debug_assert_eq!(item.guardian, reach.guardian);
        let channels_of = |numbers: &[i16]| {
            numbers
                .iter()
                .filter_map(|n| Channel::of(*n))
                .collect::<Vec<_>>()
        };
        let stopped = channels_of(&reach.stopped);
        let preferred = reach
            .preferred
            .as_deref()
            .map_or_else(|| Channel::DEFAULT_ORDER.to_vec(), channels_of);
        // Zalo's approved template is the absence notice's.
        let paid = channels_of(&reach.paid)
            .into_iter()
            .filter(|channel| !stopped.contains(channel))
            .filter(|channel| kind == Kind::AbsenceNotice || *channel != Channel::Zalo)
            .collect();
        let planned = rules::plan(
            &preferred,
            &rules::Reach {
                push: reach.push,
                email: reach.email,
                has_account: reach.has_account,
                paid,
            },
            urgent,
            Duration::from_secs(60 * reach.fallback_minutes.max(0) as u64),
        );
        for planned in planned {
            let (due, digest) = rules::release(from + planned.after, urgent, reach.daily_digest);
            rows.notices.push(item.notice);
            rows.recipients.push(item.guardian);
            rows.schools.push(item.school);
            rows.channels.push(planned.channel as i16);
            rows.fallbacks.push(planned.fallback);
            rows.dues.push(due);
            rows.digests.push(digest);
        }
    }
    if rows.notices.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO deliveries (id, kind, notice_id, recipient_id, school_id, channel, fallback, \
             state, due_at, digest, created_at) \
         SELECT gen_random_uuid(), $1, n, r, s, c, f, 'queued', d, g, now() \
         FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::smallint[], $6::bool[], \
             $7::timestamptz[], $8::bool[]) AS t(n, r, s, c, f, d, g) \
         ON CONFLICT (notice_id, recipient_id, channel) DO NOTHING",
    )
    .bind(kind as i16)
    .bind(&rows.notices)
    .bind(&rows.recipients)
    .bind(&rows.schools)
    .bind(&rows.channels)
    .bind(&rows.fallbacks)
    .bind(&rows.dues)
    .bind(&rows.digests)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deliveries to insert, column by column.
#[derive(Default)]
struct DeliveryRows {
    notices: Vec<Uuid>,
    recipients: Vec<Uuid>,
    schools: Vec<Uuid>,
    channels: Vec<i16>,
    fallbacks: Vec<bool>,
    dues: Vec<OffsetDateTime>,
    digests: Vec<bool>,
}
