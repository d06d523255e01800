//! Email over SMTP to the addresses a person registered, each send bounded by an
//! overall timeout (the SMTP client's own covers connecting only). A refusal
//! the server says is permanent (5xx) is a dead letter; anything else is tried
//! again.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sqlx::PgPool;

use super::Outgoing;
use super::outcome::Outcome;

/// How long one send may take, connection included.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(crate) struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    pool: PgPool,
}

impl Email {
    /// An SMTP server at `url` (`smtps://user:password@host`, or
    /// `smtp://host:port?tls=required` for STARTTLS; plain `smtp://` only on a
    /// private network), sending as `from`.
    pub(crate) fn new(url: &str, from: &str, pool: PgPool) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| anyhow::anyhow!("MESSAGING_SMTP_URL: {error}"))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from
            .parse()
            .map_err(|error| anyhow::anyhow!("MESSAGING_EMAIL_FROM: {error}"))?;
        Ok(Self {
            transport,
            from,
            pool,
        })
    }

    /// Sends `message` to every address its recipient registered: sent if one
    /// server took it.
    pub(crate) async fn send(&self, message: &Outgoing) -> Outcome {
        let addresses: Vec<String> = match sqlx::query_scalar(
            "SELECT address FROM devices WHERE person_id = $1 AND channel = $2",
        )
        .bind(message.recipient)
        .bind(super::Channel::Email as i16)
        .fetch_all(&self.pool)
        .await
        {
            Ok(addresses) => addresses,
            Err(error) => return Outcome::retry(format!("reading the addresses: {error}")),
        };
        let mut outcome = Outcome::Failed("no email address is registered any more".to_owned());
        for address in addresses {
            outcome = outcome.or(self.send_to(&address, message).await);
        }
        outcome
    }

    async fn send_to(&self, address: &str, message: &Outgoing) -> Outcome {
        let to: Mailbox = match address.parse() {
            Ok(to) => to,
            Err(error) => return Outcome::Failed(format!("not an address: {error}")),
        };
        let body = format!(
            "{}\n\n--\nlienlac: sổ liên lạc giữa nhà trường và gia đình. Gỡ địa chỉ email này \
             trong ứng dụng để ngừng nhận thư.\n",
            message.text
        );
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.title)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(body),
            );
        let email = match email {
            Ok(email) => email,
            Err(error) => {
                return Outcome::Failed(format!("the message could not be built: {error}"));
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(email)).await {
            Err(_) => Outcome::retry("the mail server did not answer in time".to_owned()),
            Ok(Ok(_)) => Outcome::Sent {
                provider_ref: None,
                cost_vnd: 0,
            },
            Ok(Err(error)) if error.is_permanent() => {
                Outcome::Failed(format!("the mail server refused it: {error}"))
            }
            Ok(Err(error)) => Outcome::retry(format!("the mail server failed: {error}")),
        }
    }
}
