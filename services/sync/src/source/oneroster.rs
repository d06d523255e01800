//! OneRoster 1.1 CSV (the zip of `manifest.csv`, `orgs.csv`,
//! `academicSessions.csv`, `courses.csv`, `classes.csv`, `users.csv`,
//! `enrollments.csv`, `demographics.csv`), as most school systems outside the
//! city database exchange rosters: the one place that knows that format.
//!
//! The spec's rules are kept: `manifest.csv` names each file `bulk`, `delta` or
//! `absent`; each file starts with its columns in the spec's order (more may
//! follow); a bulk file's `status` and `dateLastModified` are blank and a delta
//! file's are not. A file that breaks them fails the run saying which; a row that
//! does is a row error by file, line and column.
//!
//! Mapped onto lienlac: the org of type `district` is the unit, each org of type
//! `school` a school; `homeroom` classes are classes (scheduled ones are not
//! lienlac's); students, teachers and administrators, and parents, guardians and
//! relatives linked by `agentSourcedIds` from either side; a student's homeroom
//! enrolment their class (`beginDate` the day they joined it), a primary teacher's
//! the class's homeroom teacher; `demographics.csv` the birth date and sex. Codes
//! are the `sourcedId`s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read as _;

use super::{Place, RawClass, RawPerson, RawSchool, RawSchoolData, RawStudent, RawUnit, RowError};

/// A file's columns in the spec's order, and which must hold a value.
struct Columns {
    file: &'static str,
    names: &'static [&'static str],
    required: &'static [&'static str],
}

const ORGS: Columns = Columns {
    file: "orgs.csv",
    names: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "name",
        "type",
        "identifier",
        "parentSourcedId",
    ],
    required: &["sourcedId", "name", "type"],
};
const SESSIONS: Columns = Columns {
    file: "academicSessions.csv",
    names: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ],
    required: &[
        "sourcedId",
        "title",
        "type",
        "startDate",
        "endDate",
        "schoolYear",
    ],
};
const COURSES: Columns = Columns {
    file: "courses.csv",
    names: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ],
    required: &["sourcedId", "title", "orgSourcedId"],
};
const CLASSES: Columns = Columns {
    file: "classes.csv",
    names: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ],
    required: &[
        "sourcedId",
        "title",
        "courseSourcedId",
        "classType",
        "schoolSourcedId",
        "termSourcedIds",
    ],
};
const USERS: Columns = Columns {
    file: "users.csv",
    names: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ],
    required: &[
        "sourcedId",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "givenName",
        "familyName",
    ],
};
const ENROLLMENTS: Columns = Columns {
    file: "enrollments.csv",
    names: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ],
    required: &[
        "sourcedId",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
    ],
};
const DEMOGRAPHICS: Columns = Columns {
    file: "demographics.csv",
    names: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ],
    required: &["sourcedId"],
};

/// Why a dropped file cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[error("the file {0}")]
pub(crate) struct PackageError(String);

impl PackageError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

fn refuse(reason: impl Into<String>) -> PackageError {
    PackageError(reason.into())
}

/// `bulk` (the whole roster of what it covers) or `delta` (changes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bulk,
    Delta,
}

/// One row: its line and its values by column.
struct Row {
    line: u32,
    values: HashMap<&'static str, String>,
}

impl Row {
    fn get(&self, column: &str) -> &str {
        self.values
            .get(column)
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn list(&self, column: &str) -> Vec<String> {
        self.get(column)
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn deleted(&self) -> bool {
        self.get("status") == "tobedeleted"
    }
}

/// What a package holds, as rows lienlac's normalisation reads.
#[derive(Debug, Default)]
pub(crate) struct Package {
    pub unit: Option<RawUnit>,
    pub schools: Vec<RawSchoolData>,
    pub office_staff: Vec<RawPerson>,
    /// Every file present is bulk: a record the package lacks is no longer in the
    /// source. In a delta, only what it lists changed.
    pub complete: bool,
    pub errors: Vec<RowError>,
    /// The file's own name of a field normalisation names (`birth_date` is
    /// `Ngày sinh` in a workbook), for row errors; `None` keeps lienlac's.
    pub column_names: Option<fn(&str) -> Option<&'static str>>,
}

pub(crate) fn read(zip_bytes: &[u8], default_school_year: &str) -> Result<Package, PackageError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|e| refuse(format!("is not a zip: {e}")))?;
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    for n in 0..archive.len() {
        let mut entry = archive
            .by_index(n)
            .map_err(|e| refuse(format!("cannot be read: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map_err(|e| refuse(format!("names a file it cannot: {e}")))?
            .into_owned();
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(256 * 1024 * 1024)
            .read_to_end(&mut bytes)
            .map_err(|e| refuse(format!("cannot be read: {name}: {e}")))?;
        files.insert(name, bytes);
    }
    let modes = manifest(
        files
            .get("manifest.csv")
            .ok_or_else(|| refuse("has no manifest.csv at its root"))?,
    )?;
    let mut errors = Vec::new();
    let mut table = |columns: &Columns| -> Result<Option<(Mode, Vec<Row>)>, PackageError> {
        let name = columns.file.trim_end_matches(".csv");
        let mode = modes.get(name).copied().flatten();
        match (mode, files.get(columns.file)) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(refuse(format!(
                "holds {} but its manifest says absent",
                columns.file
            ))),
            (Some(_), None) => Err(refuse(format!(
                "lacks {}, which its manifest lists",
                columns.file
            ))),
            (Some(mode), Some(bytes)) => Ok(Some((mode, rows(columns, mode, bytes, &mut errors)?))),
        }
    };
    let orgs = table(&ORGS)?;
    let sessions = table(&SESSIONS)?;
    let _courses = table(&COURSES)?;
    let classes = table(&CLASSES)?;
    let users = table(&USERS)?;
    let enrollments = table(&ENROLLMENTS)?;
    let demographics = table(&DEMOGRAPHICS)?;
    let complete = [
        &orgs,
        &sessions,
        &classes,
        &users,
        &enrollments,
        &demographics,
    ]
    .iter()
    .all(|t| t.as_ref().is_none_or(|(mode, _)| *mode == Mode::Bulk));
    let rows_of = |t: Option<(Mode, Vec<Row>)>| t.map(|(_, rows)| rows).unwrap_or_default();
    let mut package = assemble(
        Tables {
            orgs: rows_of(orgs),
            sessions: rows_of(sessions),
            classes: rows_of(classes),
            users: rows_of(users),
            enrollments: rows_of(enrollments),
            demographics: rows_of(demographics),
        },
        default_school_year,
        &mut errors,
    );
    package.complete = complete;
    package.errors = errors;
    Ok(package)
}

/// `manifest.csv`: each file's mode, `None` for absent.
fn manifest(bytes: &[u8]) -> Result<HashMap<String, Option<Mode>>, PackageError> {
    let mut reader = csv::Reader::from_reader(without_bom(bytes));
    let headers = reader
        .headers()
        .map_err(|e| refuse(format!("manifest.csv: {e}")))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != ["propertyName", "value"] {
        return Err(refuse(
            "manifest.csv: the header must be propertyName,value",
        ));
    }
    let mut properties = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| refuse(format!("manifest.csv: {e}")))?;
        properties.insert(
            record.get(0).unwrap_or_default().to_owned(),
            record.get(1).unwrap_or_default().to_owned(),
        );
    }
    match properties.get("oneroster.version").map(String::as_str) {
        Some("1.1") => {}
        other => {
            return Err(refuse(format!(
                "manifest.csv: oneroster.version is {other:?}; lienlac reads 1.1"
            )));
        }
    }
    let mut modes = HashMap::new();
    for (property, value) in &properties {
        let Some(file) = property.strip_prefix("file.") else {
            continue;
        };
        let mode = match value.as_str() {
            "bulk" => Some(Mode::Bulk),
            "delta" => Some(Mode::Delta),
            "absent" => None,
            other => {
                return Err(refuse(format!(
                    "manifest.csv: {property} is {other:?}, not bulk, delta or absent"
                )));
            }
        };
        modes.insert(file.to_owned(), mode);
    }
    Ok(modes)
}

fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// A file's rows after its header is checked; a row with a required value
/// missing, or a status the mode forbids, is a row error and left out.
fn rows(
    columns: &Columns,
    mode: Mode,
    bytes: &[u8],
    errors: &mut Vec<RowError>,
) -> Result<Vec<Row>, PackageError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(without_bom(bytes));
    let headers = reader
        .headers()
        .map_err(|e| refuse(format!("{}: {e}", columns.file)))?
        .clone();
    let found: Vec<&str> = headers.iter().take(columns.names.len()).collect();
    if found != columns.names {
        return Err(refuse(format!(
            "{}: the header must begin {} (found {})",
            columns.file,
            columns.names.join(","),
            headers.iter().collect::<Vec<_>>().join(",")
        )));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| refuse(format!("{}: {e}", columns.file)))?;
        let line = record.position().map_or(0, |p| p.line() as u32);
        let at = Place {
            source: columns.file.to_owned(),
            line,
        };
        let values: HashMap<&'static str, String> = columns
            .names
            .iter()
            .enumerate()
            .map(|(n, name)| (*name, record.get(n).unwrap_or_default().trim().to_owned()))
            .collect();
        let row = Row { line, values };
        let error = |column: &str, message: String| RowError {
            at: at.clone(),
            column: column.to_owned(),
            external_ref: row.get("sourcedId").to_owned(),
            message,
        };
        if let Some(missing) = columns.required.iter().find(|c| row.get(c).is_empty()) {
            errors.push(error(missing, format!("{missing} is required")));
            continue;
        }
        let status = row.get("status");
        match mode {
            Mode::Bulk if !status.is_empty() || !row.get("dateLastModified").is_empty() => {
                errors.push(error(
                    "status",
                    "a bulk file leaves status and dateLastModified blank".to_owned(),
                ));
                continue;
            }
            Mode::Delta if !matches!(status, "active" | "tobedeleted") => {
                errors.push(error(
                    "status",
                    format!("{status:?} is neither active nor tobedeleted"),
                ));
                continue;
            }
            Mode::Delta if row.get("dateLastModified").is_empty() => {
                errors.push(error(
                    "dateLastModified",
                    "a delta row says when it changed".to_owned(),
                ));
                continue;
            }
            _ => {}
        }
        rows.push(row);
    }
    Ok(rows)
}

struct Tables {
    orgs: Vec<Row>,
    sessions: Vec<Row>,
    classes: Vec<Row>,
    users: Vec<Row>,
    enrollments: Vec<Row>,
    demographics: Vec<Row>,
}

fn place(file: &str, row: &Row) -> Place {
    Place {
        source: file.to_owned(),
        line: row.line,
    }
}

fn full_name(user: &Row) -> String {
    // Vietnamese order: family name, middle name, given name.
    [
        user.get("familyName"),
        user.get("middleName"),
        user.get("givenName"),
    ]
    .into_iter()
    .filter(|part| !part.is_empty())
    .collect::<Vec<_>>()
    .join(" ")
}

fn phone(user: &Row) -> String {
    let phone = user.get("phone");
    if phone.is_empty() {
        user.get("sms")
    } else {
        phone
    }
    .to_owned()
}

fn assemble(tables: Tables, default_school_year: &str, errors: &mut Vec<RowError>) -> Package {
    let unit = tables
        .orgs
        .iter()
        .find(|o| o.get("type") == "district")
        .map(|o| RawUnit {
            code: o.get("sourcedId").to_owned(),
            name: o.get("name").to_owned(),
        });
    // A session's school year, `2026-2027` for `schoolYear` 2027.
    let years: HashMap<&str, String> = tables
        .sessions
        .iter()
        .filter_map(|s| {
            let end: i32 = s.get("schoolYear").parse().ok()?;
            Some((s.get("sourcedId"), format!("{}-{end}", end - 1)))
        })
        .collect();
    let users: HashMap<&str, &Row> = tables
        .users
        .iter()
        .map(|u| (u.get("sourcedId"), u))
        .collect();
    let demographics: HashMap<&str, &Row> = tables
        .demographics
        .iter()
        .map(|d| (d.get("sourcedId"), d))
        .collect();
    // Guardianships from either side, each once.
    let mut agents: BTreeSet<(String, String)> = BTreeSet::new();
    for user in &tables.users {
        for agent in user.list("agentSourcedIds") {
            let (student, guardian) = if user.get("role") == "student" {
                (user.get("sourcedId").to_owned(), agent)
            } else {
                (agent, user.get("sourcedId").to_owned())
            };
            agents.insert((student, guardian));
        }
    }
    let homerooms: HashMap<&str, &Row> = tables
        .classes
        .iter()
        .filter(|c| c.get("classType") == "homeroom")
        .map(|c| (c.get("sourcedId"), c))
        .collect();
    let mut class_of: HashMap<&str, &Row> = HashMap::new();
    let mut teacher_of: HashMap<&str, &str> = HashMap::new();
    for enrollment in &tables.enrollments {
        let class = enrollment.get("classSourcedId");
        // A class the package lists is lienlac's when it is a homeroom; one a
        // delta only names is one lienlac has already.
        let listed = tables.classes.iter().any(|c| c.get("sourcedId") == class);
        if listed && !homerooms.contains_key(class) {
            continue;
        }
        match enrollment.get("role") {
            "student" => {
                class_of.insert(enrollment.get("userSourcedId"), enrollment);
            }
            "teacher" if enrollment.get("primary") == "true" && !enrollment.deleted() => {
                teacher_of.insert(class, enrollment.get("userSourcedId"));
            }
            _ => {}
        }
    }

    let mut schools: BTreeMap<String, RawSchoolData> = tables
        .orgs
        .iter()
        .filter(|o| o.get("type") == "school")
        .map(|o| {
            let code = o.get("sourcedId");
            (
                code.to_owned(),
                RawSchoolData {
                    school: RawSchool {
                        code: code.to_owned(),
                        name: o.get("name").to_owned(),
                        unit_code: unit.as_ref().map(|u| u.code.clone()).unwrap_or_default(),
                    },
                    classes: Vec::new(),
                    staff: Vec::new(),
                    students: Vec::new(),
                    guardians: Vec::new(),
                },
            )
        })
        .collect();
    // A delta without orgs.csv names its schools by reference only: those of its
    // classes, enrolments and students, which lienlac knows already.
    if tables.orgs.is_empty() {
        let referenced = tables
            .classes
            .iter()
            .chain(&tables.enrollments)
            .map(|row| row.get("schoolSourcedId").to_owned())
            .chain(
                tables
                    .users
                    .iter()
                    .filter(|u| u.get("role") == "student")
                    .flat_map(|u| u.list("orgSourcedIds")),
            )
            .filter(|code| !code.is_empty())
            .collect::<BTreeSet<String>>();
        for code in referenced {
            schools
                .entry(code.clone())
                .or_insert_with(|| RawSchoolData {
                    school: RawSchool {
                        code: code.clone(),
                        name: String::new(),
                        unit_code: String::new(),
                    },
                    classes: Vec::new(),
                    staff: Vec::new(),
                    students: Vec::new(),
                    guardians: Vec::new(),
                });
        }
    }
    let mut office_staff = Vec::new();
    let unplaced =
        |file: &str, row: &Row, column: &str, what: String, errors: &mut Vec<RowError>| {
            errors.push(RowError {
                at: place(file, row),
                column: column.to_owned(),
                external_ref: row.get("sourcedId").to_owned(),
                message: what,
            });
        };

    for class in homerooms.values() {
        let school = class.get("schoolSourcedId");
        let Some(data) = schools.get_mut(school) else {
            unplaced(
                CLASSES.file,
                class,
                "schoolSourcedId",
                format!("no school {school} in orgs.csv"),
                errors,
            );
            continue;
        };
        let year = class
            .list("termSourcedIds")
            .iter()
            .find_map(|term| years.get(term.as_str()).cloned())
            .unwrap_or_else(|| default_school_year.to_owned());
        data.classes.push(RawClass {
            at: place(CLASSES.file, class),
            code: class.get("sourcedId").to_owned(),
            name: class.get("title").to_owned(),
            grade: class.list("grades").first().cloned().unwrap_or_default(),
            school_year: year,
            homeroom_teacher_code: teacher_of
                .get(class.get("sourcedId"))
                .map(|t| (*t).to_owned())
                .unwrap_or_default(),
            version: 1,
        });
    }

    for user in &tables.users {
        let code = user.get("sourcedId");
        let orgs = user.list("orgSourcedIds");
        let school = orgs
            .iter()
            .find(|o| schools.contains_key(o.as_str()))
            .cloned();
        let person = |position: &str| RawPerson {
            at: place(USERS.file, user),
            code: code.to_owned(),
            full_name: full_name(user),
            phone: phone(user),
            position: position.to_owned(),
            version: 1,
        };
        match user.get("role") {
            "student" => {
                let Some(school) = school else {
                    unplaced(
                        USERS.file,
                        user,
                        "orgSourcedIds",
                        "a student of no school in orgs.csv".to_owned(),
                        errors,
                    );
                    continue;
                };
                let enrollment = class_of.get(code);
                let demographic = demographics.get(code);
                let left = user.deleted()
                    || enrollment.is_some_and(|e| e.deleted() || !e.get("endDate").is_empty());
                let student = RawStudent {
                    at: place(USERS.file, user),
                    code: code.to_owned(),
                    full_name: full_name(user),
                    birth_date: demographic
                        .map(|d| d.get("birthDate").to_owned())
                        .unwrap_or_default(),
                    gender: demographic
                        .map(|d| d.get("sex").to_owned())
                        .unwrap_or_default(),
                    class_code: enrollment
                        .map(|e| e.get("classSourcedId").to_owned())
                        .unwrap_or_default(),
                    class_since: enrollment
                        .map(|e| e.get("beginDate").to_owned())
                        .unwrap_or_default(),
                    status: if left { "left" } else { "studying" }.to_owned(),
                    left_on: enrollment
                        .map(|e| e.get("endDate").to_owned())
                        .filter(|d| !d.is_empty())
                        .or_else(|| {
                            user.deleted().then(|| {
                                user.get("dateLastModified")
                                    .get(..10)
                                    .unwrap_or_default()
                                    .to_owned()
                            })
                        })
                        .unwrap_or_default(),
                    guardians: agents
                        .iter()
                        .filter(|(student, _)| student == code)
                        .map(|(_, guardian)| (guardian.clone(), "guardian".to_owned()))
                        .collect(),
                    version: 1,
                };
                if let Some(data) = schools.get_mut(school.as_str()) {
                    data.students.push(student);
                }
            }
            "teacher" | "administrator" => {
                let position = if user.get("role") == "teacher" {
                    "Giáo viên"
                } else {
                    "Cán bộ quản lý"
                };
                match school {
                    Some(school) => {
                        if let Some(data) = schools.get_mut(school.as_str()) {
                            data.staff.push(person(position));
                        }
                    }
                    None => office_staff.push(person(position)),
                }
            }
            "parent" | "guardian" | "relative" => {
                // Listed with each school where a child of theirs studies.
                let children: BTreeSet<String> = agents
                    .iter()
                    .filter(|(_, guardian)| guardian == code)
                    .filter_map(|(student, _)| users.get(student.as_str()))
                    .flat_map(|student| student.list("orgSourcedIds"))
                    .filter(|org| schools.contains_key(org.as_str()))
                    .collect();
                for school in children {
                    if let Some(data) = schools.get_mut(&school) {
                        data.guardians.push(person(""));
                    }
                }
            }
            _ => {}
        }
    }
    Package {
        unit,
        schools: schools.into_values().collect(),
        office_staff,
        complete: true,
        errors: Vec::new(),
        column_names: None,
    }
}
