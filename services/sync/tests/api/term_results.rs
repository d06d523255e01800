//! A school's term results pulled from the city database: checked against
//! Circular 27/2020, kept with the teachers' comments, and published per class
//! for the report cards without them.

use citydb_sim::Faults;
use lienlac_proto::sync::v1 as pb;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_schools_term_results_are_imported_per_class_and_published_without_the_comments() {
    let year = school_year();
    let stack = Stack::start(small_city(&year), Faults::default()).await;
    let run = stack.finished(&stack.run_of_unit(false).await).await;
    let district = stack.export_district(&run.district_id).await;
    let school_id = district.schools[0].id.clone();
    let export = stack.export_school(&school_id).await;

    let import = stack
        .sync()
        .import_term_results(with_token(
            pb::ImportTermResultsRequest {
                request_id: rid(),
                school_id: school_id.clone(),
                term: 1,
            },
            &stack.operator,
        ))
        .await
        .unwrap()
        .into_inner();
    let studying = export
        .students
        .iter()
        .filter(|s| !s.class_id.is_empty())
        .count();
    assert_eq!((import.classes, import.students as usize), (4, studying));
    // The city has results for the student born on 30 February, whom lienlac
    // could not mirror.
    let refused: Vec<&str> = import
        .row_errors
        .iter()
        .map(|e| e.column.as_str())
        .collect();
    assert_eq!(refused, ["student_code"]);

    let class = export
        .classes
        .iter()
        .find(|c| c.external_ref == "79999001-3A1")
        .unwrap();
    let results = stack
        .sync()
        .get_term_results(with_token(
            pb::GetTermResultsRequest {
                class_id: class.id.clone(),
                term: 1,
            },
            &stack.operator,
        ))
        .await
        .unwrap()
        .into_inner();
    let in_class = export
        .students
        .iter()
        .filter(|s| s.class_id == class.id)
        .count();
    assert_eq!(results.results.len(), in_class);
    assert_eq!(results.comments.len(), in_class);
    let first = &results.results[0];
    let scored: Vec<&str> = first
        .subjects
        .iter()
        .filter(|s| s.score > 0)
        .map(|s| s.subject.as_str())
        .collect();
    assert_eq!(
        scored,
        ["Tiếng Việt", "Toán", "Tin học và Công nghệ", "Ngoại ngữ 1"],
        "grade 3's tested subjects"
    );
    assert_eq!(first.qualities.len(), 5);

    let published: Vec<String> = sqlx::query_scalar(
        "SELECT data::text FROM events WHERE event_type = 'TermResultsImported' ORDER BY position",
    )
    .fetch_all(&stack.sync_pool)
    .await
    .unwrap();
    assert_eq!(published.len(), 4, "one event per class");
    let comment = results.comments.values().next().unwrap();
    assert!(
        published
            .iter()
            .all(|data| !data.contains(comment.as_str())),
        "comments are not published"
    );

    let refused = stack
        .sync()
        .import_term_results(with_token(
            pb::ImportTermResultsRequest {
                request_id: rid(),
                school_id,
                term: 3,
            },
            &stack.operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
}
