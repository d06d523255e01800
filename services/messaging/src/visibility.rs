//! Who reads a classified record (a post, a bulletin), as the one SQL filter every
//! read applies: the caller's `Visibility` (posts/rules.rs `visibility`) bound as
//! $1 to $5, matched against the record's classification, class, named recipients
//! and author.

use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::QueryAs;

use crate::posts::rules::Visibility;

/// The columns of a record the filter reads.
pub(crate) struct Columns {
    pub(crate) classification: &'static str,
    pub(crate) class: &'static str,
    pub(crate) recipients: &'static str,
    pub(crate) author: &'static str,
}

/// Whether the record is one the reader sees, for a query whose first five
/// parameters [`bind`] filled.
pub(crate) fn visible(c: &Columns) -> String {
    let Columns {
        classification,
        class,
        recipients,
        author,
    } = c;
    format!(
        "($1::bool \
         OR ($2::bool AND {classification} <> 'CLASSIFICATION_CONFIDENTIAL') \
         OR ($3::bool AND {classification} IN ('CLASSIFICATION_PUBLIC', 'CLASSIFICATION_SCHOOL')) \
         OR ({classification} = 'CLASSIFICATION_CLASS' AND {class} = ANY($4::uuid[])) \
         OR ({classification} = 'CLASSIFICATION_CONFIDENTIAL' AND $5::uuid = ANY({recipients})) \
         OR {author} = $5::uuid)"
    )
}

/// Binds the reader's visibility as the query's parameters $1 to $5.
pub(crate) fn bind<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    visibility: &Visibility,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(visibility.everything)
        .bind(visibility.all_but_confidential)
        .bind(visibility.school_wide)
        .bind(visibility.classes.clone())
        .bind(visibility.person)
}
