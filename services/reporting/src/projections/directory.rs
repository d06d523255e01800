//! Identity's events as the directory reports need: classes, who is in which
//! class when, staff, guardianships, accounts and sign-ins; no names.

use kernel::consumer::{Projection, ReceivedEvent};
use lienlac_proto::identity::v2 as identity;
use school::directory::DirectoryChange;
use school::enrolments::{Change, uuid};
use sqlx::PgConnection;

pub(crate) struct DirectoryProjection {
    name: String,
}

impl DirectoryProjection {
    pub(crate) fn new(name: String) -> Self {
        Self { name }
    }
}

impl Projection for DirectoryProjection {
    fn name(&self) -> &str {
        &self.name
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        match school::directory::project(conn, event).await? {
            // The new period starts with no guardians counted.
            Some(DirectoryChange::Enrolment(Change::Opened { student })) => {
                lock_guardian_figures(conn).await?;
                return refresh_guardian_counts(conn, &[student])
                    .await
                    .map_err(Into::into);
            }
            Some(DirectoryChange::GuardianLinked { guardian, student }) => {
                return guardian_linked(conn, guardian, student).await;
            }
            Some(DirectoryChange::GuardianUnlinked { guardian, student }) => {
                return guardian_unlinked(conn, guardian, student).await;
            }
            Some(DirectoryChange::RosterImported { students, links }) => {
                return roster_imported(conn, event.decode()?, &students, &links).await;
            }
            Some(_) => return Ok(()),
            None => {}
        }
        match event.name() {
            "DistrictCreated" => {
                let district: identity::DistrictCreated = event.decode()?;
                sqlx::query(
                    "INSERT INTO districts (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("district_id", &district.district_id)?)
                .bind(&district.name)
                .execute(conn)
                .await?;
            }
            "StudentRegistered" => {
                let student: identity::StudentRegistered = event.decode()?;
                sqlx::query(
                    "INSERT INTO students (id, school_id, district_id, external_ref) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("student_id", &student.student_id)?)
                .bind(uuid("school_id", &student.school_id)?)
                .bind(uuid("district_id", &student.district_id)?)
                .bind(&student.external_ref)
                .execute(conn)
                .await?;
            }
            "PersonalDataErased" => {
                // The student stays an id in every figure; the city's code goes too.
                let erased: identity::PersonalDataErased = event.decode()?;
                sqlx::query("UPDATE students SET external_ref = '' WHERE id = $1")
                    .bind(uuid("person_id", &erased.person_id)?)
                    .execute(conn)
                    .await?;
            }
            "StaffRegistered" => {
                let staff: identity::StaffRegistered = event.decode()?;
                // Staff of the district office are in no school's adoption figures.
                if staff.school_id.is_empty() {
                    return Ok(());
                }
                sqlx::query(
                    "INSERT INTO staff (id, school_id, district_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("staff_id", &staff.staff_id)?)
                .bind(uuid("school_id", &staff.school_id)?)
                .bind(uuid("district_id", &staff.district_id)?)
                .execute(&mut *conn)
                .await?;
                refresh_staff_accounts(conn, uuid("staff_id", &staff.staff_id)?).await?;
            }
            "AccountIssued" => {
                let issued: identity::AccountIssued = event.decode()?;
                let person = uuid("person_id", &issued.person_id)?;
                sqlx::query(
                    "INSERT INTO accounts (id, person_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("account_id", &issued.account_id)?)
                .bind(person)
                .execute(&mut *conn)
                .await?;
                refresh_staff_accounts(conn, person).await?;
            }
            "AccountActivated" => {
                let activated: identity::AccountActivated = event.decode()?;
                let person = uuid("person_id", &activated.person_id)?;
                lock_guardian_figures(conn).await?;
                sqlx::query(
                    "INSERT INTO accounts (id, person_id, activated) VALUES ($1, $2, true) \
                     ON CONFLICT (id) DO UPDATE SET activated = true",
                )
                .bind(uuid("account_id", &activated.account_id)?)
                .bind(person)
                .execute(&mut *conn)
                .await?;
                let guardian_of = sqlx::query(
                    "UPDATE guardianships SET activated = true WHERE guardian_id = $1 AND NOT activated",
                )
                .bind(person)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if guardian_of > 0 {
                    let children = children_of(conn, person).await?;
                    refresh_guardian_counts(conn, &children).await?;
                }
                refresh_staff_accounts(conn, person).await?;
            }
            "AccountSignedIn" => {
                let signed_in: identity::AccountSignedIn = event.decode()?;
                // Platform operators are nobody's staff or guardian: no person.
                if signed_in.person_id.is_empty() {
                    return Ok(());
                }
                let date = kernel::dates::parse(&signed_in.date)
                    .ok_or_else(|| anyhow::anyhow!("date {:?}", signed_in.date))?;
                sqlx::query(
                    "INSERT INTO sign_ins (person_id, date) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(uuid("person_id", &signed_in.person_id)?)
                .bind(date)
                .execute(conn)
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query(
            "TRUNCATE districts, schools, classes, students, enrolment_periods, staff, guardianships, accounts, sign_ins",
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// A guardian linked (the shared tables hold the link): whether the guardian has
/// an activated account and more than one child, and the children's figures.
async fn guardian_linked(
    conn: &mut PgConnection,
    guardian: uuid::Uuid,
    student: uuid::Uuid,
) -> anyhow::Result<()> {
    lock_guardian_figures(conn).await?;
    sqlx::query(
        "UPDATE guardianships SET \
             activated = EXISTS (SELECT 1 FROM accounts WHERE person_id = $1 AND activated), \
             shared = EXISTS (SELECT 1 FROM guardianships o WHERE o.guardian_id = $1 AND o.student_id <> $2) \
         WHERE guardian_id = $1 AND student_id = $2",
    )
    .bind(guardian)
    .bind(student)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE guardianships SET shared = true \
         WHERE guardian_id = $1 AND NOT shared \
           AND EXISTS (SELECT 1 FROM guardianships o \
                       WHERE o.guardian_id = $1 AND o.student_id <> guardianships.student_id)",
    )
    .bind(guardian)
    .execute(&mut *conn)
    .await?;
    let children = children_of(conn, guardian).await?;
    refresh_guardian_counts(conn, &children).await?;
    Ok(())
}

/// A class's roster imported (the shared tables hold its enrolments and links):
/// its students, and the guardian figures as a link and an enrolment each would
/// leave them.
async fn roster_imported(
    conn: &mut PgConnection,
    roster: identity::ClassRosterImported,
    students: &[uuid::Uuid],
    links: &[(uuid::Uuid, uuid::Uuid)],
) -> anyhow::Result<()> {
    let refs: Vec<&str> = roster
        .students
        .iter()
        .map(|s| s.external_ref.as_str())
        .collect();
    sqlx::query(
        "INSERT INTO students (id, school_id, district_id, external_ref) \
         SELECT s.id, $1, $2, s.external_ref FROM unnest($3::uuid[], $4::text[]) AS s(id, external_ref) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(uuid("school_id", &roster.school_id)?)
    .bind(uuid("district_id", &roster.district_id)?)
    .bind(students)
    .bind(&refs)
    .execute(&mut *conn)
    .await?;
    lock_guardian_figures(conn).await?;
    // The new links start neither activated nor shared. Only a guardian
    // registered before (with an account, maybe, and children elsewhere) or linked
    // to two children of the roster changes that, and only their other children's
    // figures move: for most rosters, none. Each statement reaches the rows by
    // their keys (`= ANY`) and is planned afresh (not persistent): a plan cached
    // while the tables were nearly empty scans them whole once a mirror has
    // filled them, a roster after another.
    let new: std::collections::HashSet<uuid::Uuid> = roster
        .guardians
        .iter()
        .map(|g| uuid("guardian_id", &g.guardian_id))
        .collect::<anyhow::Result<_>>()?;
    let (registered_before, maybe_shared) = guardians_to_recount(&new, links);
    let mut children = students.to_vec();
    if !registered_before.is_empty() {
        sqlx::query(
            "UPDATE guardianships SET activated = true \
             WHERE student_id = ANY($1) AND NOT activated \
               AND guardian_id IN (SELECT person_id FROM accounts WHERE person_id = ANY($2) AND activated)",
        )
        .persistent(false)
        .bind(students)
        .bind(&registered_before)
        .execute(&mut *conn)
        .await?;
        let elsewhere: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT student_id FROM guardianships WHERE guardian_id = ANY($1)",
        )
        .persistent(false)
        .bind(&registered_before)
        .fetch_all(&mut *conn)
        .await?;
        children.extend(elsewhere);
    }
    if !maybe_shared.is_empty() {
        sqlx::query(
            "UPDATE guardianships SET shared = true \
             WHERE guardian_id = ANY($1) AND NOT shared \
               AND guardian_id IN (SELECT guardian_id FROM guardianships WHERE guardian_id = ANY($1) \
                                   GROUP BY guardian_id HAVING count(*) > 1)",
        )
        .persistent(false)
        .bind(&maybe_shared)
        .execute(&mut *conn)
        .await?;
    }
    children.sort_unstable();
    children.dedup();
    refresh_guardian_counts(conn, &children).await?;
    Ok(())
}

/// Of a roster's links `(guardian, student)`, the guardians registered before it
/// (not in `new`), and those who may have more than one child: registered before,
/// or linked to two children of the roster. Both sorted.
fn guardians_to_recount(
    new: &std::collections::HashSet<uuid::Uuid>,
    links: &[(uuid::Uuid, uuid::Uuid)],
) -> (Vec<uuid::Uuid>, Vec<uuid::Uuid>) {
    let mut links_of: std::collections::BTreeMap<uuid::Uuid, usize> =
        std::collections::BTreeMap::new();
    for (guardian, _) in links {
        *links_of.entry(*guardian).or_default() += 1;
    }
    let registered_before = links_of
        .keys()
        .filter(|guardian| !new.contains(guardian))
        .copied()
        .collect();
    let maybe_shared = links_of
        .iter()
        .filter(|(guardian, links)| **links > 1 || !new.contains(guardian))
        .map(|(guardian, _)| *guardian)
        .collect();
    (registered_before, maybe_shared)
}

/// A guardianship ended (the shared tables no longer hold it): whether the
/// guardian still has more than one child, and the figures of the student and of
/// the guardian's other children.
async fn guardian_unlinked(
    conn: &mut PgConnection,
    guardian: uuid::Uuid,
    student: uuid::Uuid,
) -> anyhow::Result<()> {
    lock_guardian_figures(conn).await?;
    sqlx::query(
        "UPDATE guardianships SET shared = EXISTS (SELECT 1 FROM guardianships o \
             WHERE o.guardian_id = $1 AND o.student_id <> guardianships.student_id) \
         WHERE guardian_id = $1",
    )
    .bind(guardian)
    .execute(&mut *conn)
    .await?;
    let mut children = children_of(conn, guardian).await?;
    children.push(student);
    refresh_guardian_counts(conn, &children).await?;
    Ok(())
}

/// Serialises the writes of guardian figures: a link, an activation and an
/// enrolment projected at once by two replicas could each miss the other's row.
async fn lock_guardian_figures(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' guardian figures'))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Recounts a staff member's accounts from the accounts projected; nothing when
/// `person` is no staff member.
async fn refresh_staff_accounts(conn: &mut PgConnection, person: uuid::Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE staff SET accounts = a.accounts, activated = a.activated \
         FROM (SELECT count(*)::int AS accounts, coalesce(bool_or(activated), false) AS activated \
               FROM accounts WHERE person_id = $1) a \
         WHERE staff.id = $1 AND (staff.accounts, staff.activated) IS DISTINCT FROM (a.accounts, a.activated)",
    )
    .bind(person)
    .execute(conn)
    .await?;
    Ok(())
}

/// The students of a guardian.
async fn children_of(
    conn: &mut PgConnection,
    guardian: uuid::Uuid,
) -> sqlx::Result<Vec<uuid::Uuid>> {
    sqlx::query_scalar("SELECT student_id FROM guardianships WHERE guardian_id = $1")
        .bind(guardian)
        .fetch_all(conn)
        .await
}

/// Recounts the unshared guardians (and those activated) on the enrolment periods
/// of `students`. Each side is reached by its student id (the guardians counted
/// per student, LATERAL), so the statement stays on the indexes however large
/// the tables and however old their statistics: with stale statistics, a join of
/// a class's students to `guardianships` was planned as a scan of the whole table.
/// It is planned afresh each time, as a roster's statements are.
async fn refresh_guardian_counts(
    conn: &mut PgConnection,
    students: &[uuid::Uuid],
) -> sqlx::Result<()> {
    if students.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE enrolment_periods e SET guardians = c.total, guardians_activated = c.activated \
         FROM (SELECT s.student_id, g.total, g.activated \
               FROM unnest($1::uuid[]) AS s(student_id), \
               LATERAL (SELECT count(*) FILTER (WHERE NOT shared) AS total, \
                               count(*) FILTER (WHERE NOT shared AND activated) AS activated \
                        FROM guardianships WHERE student_id = s.student_id) g) c \
         WHERE e.student_id = ANY($1) AND e.student_id = c.student_id \
           AND (e.guardians, e.guardians_activated) IS DISTINCT FROM (c.total::int, c.activated::int)",
    )
    .persistent(false)
    .bind(students)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::guardians_to_recount;

    #[test]
    fn only_guardians_registered_before_or_of_two_children_are_recounted() {
        let id = |n: u128| Uuid::from_u128(n);
        let (new_one, new_two, before) = (id(1), id(2), id(3));
        let new = [new_one, new_two].into_iter().collect();
        type Recounted = (Vec<Uuid>, Vec<Uuid>);
        let table: [(&[(Uuid, Uuid)], Recounted); 4] = [
            // New parents of one child each: nobody.
            (&[(new_one, id(10)), (new_two, id(11))], (vec![], vec![])),
            // A new parent of two children of the roster may be shared.
            (
                &[(new_one, id(10)), (new_one, id(11))],
                (vec![], vec![new_one]),
            ),
            // A parent registered before: looked up, and may be shared.
            (&[(before, id(10))], (vec![before], vec![before])),
            (&[], (vec![], vec![])),
        ];
        for (links, expected) in table {
            assert_eq!(guardians_to_recount(&new, links), expected, "{links:?}");
        }
    }
}
