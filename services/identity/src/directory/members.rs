//! How people appear in conversations: messaging keeps no names and asks here,
//! with its reader's own token. A reader sees the staff and guardians of the
//! schools they belong to; a guardian appears as "Phụ huynh em <child's given
//! name>" unless they chose a name, never with their phone number.

use kernel::auth::{Caller, Role, ScopeKind};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::{DescribeMembersResponse, Member, PersonKind};
use lienlac_proto::identity::v2::DisplayNameChosen;
use school::roles::{DISTRICT_OFFICE, SCHOOL_COLLEAGUES};
use unicode_normalization::UnicodeNormalization as _;
use uuid::Uuid;

use super::meta;
use crate::Ctx;
use crate::access;
use crate::error::{AppError, AppResult};
use crate::events::person_stream;
use crate::personal_data::{self, PersonalFields};
use crate::write_model::record;

/// The most ids one request may name.
pub(crate) const MAX_MEMBERS: usize = 500;

/// The longest display name, in characters.
const MAX_DISPLAY_NAME: usize = 60;

/// How a person appears: a staff member by their name, a guardian by the name
/// they chose or as the parent of their children (`children`: full names).
pub(crate) fn display_name(
    kind: PersonKind,
    full_name: &str,
    chosen: Option<&str>,
    children: &[String],
) -> String {
    match (kind, chosen) {
        (PersonKind::Guardian, Some(chosen)) if !chosen.is_empty() => chosen.to_owned(),
        (PersonKind::Guardian, _) if children.is_empty() => "Phụ huynh".to_owned(),
        (PersonKind::Guardian, _) => {
            let given: Vec<&str> = children
                .iter()
                .filter_map(|name| name.split_whitespace().last())
                .collect();
            format!("Phụ huynh em {}", given.join(", "))
        }
        _ => full_name.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NameRefusal {
    #[error("display_name: at most {MAX_DISPLAY_NAME} characters")]
    TooLong,
    #[error("display_name: letters, digits, spaces and punctuation only")]
    NotPrintable,
    #[error("display_name: a display name may not hold a phone number")]
    PhoneNumber,
}

/// Characters that print nothing or reorder the text around them (zero-width
/// spaces and joiners, bidirectional controls, the soft hyphen, the BOM): a name
/// with them could hide a number or pass for another.
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{FEFF}')
        || ('\u{200B}'..='\u{200F}').contains(&c)
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2060}'..='\u{206F}').contains(&c)
}

/// The name as it will be kept (NFKC, trimmed; empty for the default), or why
/// not. NFKC first, so full-width and other compatibility digits count as digits.
pub(crate) fn check_display_name(requested: &str) -> Result<String, NameRefusal> {
    if requested.chars().any(invisible) {
        return Err(NameRefusal::NotPrintable);
    }
    let normalized: String = requested.nfkc().collect();
    let name = normalized.trim();
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(NameRefusal::TooLong);
    }
    if name.chars().filter(|c| c.is_numeric()).count() >= 7 {
        return Err(NameRefusal::PhoneNumber);
    }
    Ok(name.to_owned())
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: Uuid,
    kind: String,
    full_name: String,
    display_name: Option<String>,
    erased: bool,
    children: Vec<String>,
}

impl MemberRow {
    fn member(self) -> Member {
        let kind = access::person_kind(&self.kind);
        Member {
            person_id: self.id.to_string(),
            kind: kind as i32,
            display_name: if self.erased {
                String::new()
            } else {
                display_name(
                    kind,
                    &self.full_name,
                    self.display_name.as_deref(),
                    &self.children,
                )
            },
            erased: self.erased,
        }
    }
}

/// The schools the caller belongs to, as SQL over the caller's school, class and
/// district bindings ($2, $3, $4) and person ($5): the schools of their children
/// and the school they work at.
const CALLERS_SCHOOLS: &str = "\
    SELECT id FROM schools WHERE id = ANY($2) OR district_id = ANY($4) \
    UNION SELECT school_id FROM classes WHERE id = ANY($3) \
    UNION SELECT c.school_id FROM guardianships g \
          JOIN enrolments e ON e.student_id = g.student_id AND e.active \
          JOIN classes c ON c.id = e.class_id WHERE g.guardian_id = $5 \
    UNION SELECT school_id FROM people WHERE id = $5 AND kind = 'staff'";

pub(crate) async fn describe_members(
    ctx: &Ctx,
    caller: &Caller,
    ids: &[Uuid],
) -> AppResult<DescribeMembersResponse> {
    // Only the district office's and the staff's bindings place the caller: a
    // district's bus subscriber, say, is no member of any school.
    let scoped = |kind: ScopeKind, roles: &[Role]| -> Vec<Uuid> {
        caller
            .bindings
            .iter()
            .filter(|b| b.scope == kind && roles.contains(&b.role))
            .filter_map(|b| b.id)
            .collect()
    };
    let sql = format!(
        "WITH reach AS ({CALLERS_SCHOOLS}), \
         children AS (SELECT g.guardian_id, s.full_name FROM guardianships g \
             JOIN people s ON s.id = g.student_id \
             JOIN enrolments e ON e.student_id = s.id AND e.active \
             JOIN classes c ON c.id = e.class_id \
             WHERE g.guardian_id = ANY($1) AND c.school_id IN (SELECT id FROM reach)) \
         SELECT p.id, p.kind, p.full_name, p.display_name, p.erased_at IS NOT NULL AS erased, \
             ARRAY(SELECT full_name FROM children WHERE guardian_id = p.id ORDER BY full_name) AS children \
         FROM people p WHERE p.id = ANY($1) AND ( \
             p.id = $5 \
             OR (p.kind = 'staff' AND p.school_id IN (SELECT id FROM reach)) \
             OR (p.kind = 'guardian' AND EXISTS (SELECT 1 FROM children WHERE guardian_id = p.id)))"
    );
    let rows: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .bind(scoped(ScopeKind::School, SCHOOL_COLLEAGUES))
        .bind(scoped(ScopeKind::Class, SCHOOL_COLLEAGUES))
        .bind(scoped(ScopeKind::District, DISTRICT_OFFICE))
        .bind(caller.person_id)
        .fetch_all(&ctx.pool)
        .await?;
    Ok(DescribeMembersResponse {
        members: rows.into_iter().map(MemberRow::member).collect(),
    })
}

pub(crate) async fn set_display_name(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    name: String,
) -> AppResult<Member> {
    let person = caller.person_id.ok_or_else(|| {
        AppError::Rejected("this account is no person's: it has no display name".to_owned())
    })?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let found: Option<(String, Uuid)> = sqlx::query_as(
                "SELECT kind, district_id FROM people WHERE id = $1 AND erased_at IS NULL FOR UPDATE",
            )
            .bind(person)
            .fetch_optional(&mut *tx)
            .await?;
            let (kind, district) = found.ok_or(AppError::NotFound("person"))?;
            if kind != "guardian" {
                return Err(AppError::Rejected(
                    "staff appear in conversations by their name; guardians choose theirs"
                        .to_owned(),
                ));
            }
            let event = DisplayNameChosen {
                person_id: person.to_string(),
                district_id: district.to_string(),
            };
            let personal = PersonalFields {
                display_name: name.clone(),
                ..PersonalFields::default()
            };
            let event = personal_data::sealed_event(tx, person, &event, &personal).await?;
            record(tx, &person_stream(person), &meta(&by, district, None), event).await?;
            let row: MemberRow = sqlx::query_as(
                "SELECT id, kind, full_name, display_name, erased_at IS NOT NULL AS erased, \
                 ARRAY[]::text[] AS children FROM people WHERE id = $1",
            )
            .bind(person)
            .fetch_one(&mut *tx)
            .await?;
            Ok(row.member())
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_person_then_they_appear_by_name_by_choice_or_as_their_childrens_parent() {
        let phuc = vec!["Nguyễn Gia Phúc".to_owned()];
        let two = vec!["Nguyễn Gia Phúc".to_owned(), "Nguyễn Minh An".to_owned()];
        let cases = [
            ("staff", PersonKind::Staff, None, &phuc, "Trần Thị Lan"),
            (
                "guardian",
                PersonKind::Guardian,
                None,
                &phuc,
                "Phụ huynh em Phúc",
            ),
            (
                "guardian of two",
                PersonKind::Guardian,
                None,
                &two,
                "Phụ huynh em Phúc, An",
            ),
            (
                "guardian who chose",
                PersonKind::Guardian,
                Some("Mẹ bé Phúc"),
                &phuc,
                "Mẹ bé Phúc",
            ),
            (
                "chose the default again",
                PersonKind::Guardian,
                Some(""),
                &phuc,
                "Phụ huynh em Phúc",
            ),
            (
                "no child in school",
                PersonKind::Guardian,
                None,
                &vec![],
                "Phụ huynh",
            ),
        ];
        for (case, kind, chosen, children, expected) in cases {
            assert_eq!(
                display_name(kind, "Trần Thị Lan", chosen, children),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn given_a_requested_name_then_it_is_kept_trimmed_or_refused() {
        let cases = [
            ("  Mẹ bé Phúc ", Ok("Mẹ bé Phúc".to_owned())),
            ("", Ok(String::new())),
            ("Bố Phúc 2A", Ok("Bố Phúc 2A".to_owned())),
            ("Mẹ Phúc 0901 234 567", Err(NameRefusal::PhoneNumber)),
            (
                "Mẹ Phúc ０９０１２３４５６７",
                Err(NameRefusal::PhoneNumber),
            ),
            ("Mẹ Phúc 09\u{200B}01", Err(NameRefusal::NotPrintable)),
            ("\u{202E}cúhP ẹM", Err(NameRefusal::NotPrintable)),
            ("a\u{7}b", Err(NameRefusal::NotPrintable)),
            (&"x".repeat(61), Err(NameRefusal::TooLong)),
        ];
        for (requested, expected) in cases {
            assert_eq!(check_display_name(requested), expected, "{requested:?}");
        }
    }
}
