//! A survey's questions and a guardian's answers, checked, and the answers
//! tallied per class: pure functions, each case a line of the table tests below.

use std::collections::BTreeMap;

use lienlac_proto::messaging::v1::{
    AnswerValue, ChoiceCount, Question, QuestionKind, QuestionTally,
};
use uuid::Uuid;

/// The longest text answer, in characters.
pub(crate) const MAX_TEXT_ANSWER: usize = 500;

/// Why answers are refused, saying which question.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("question {0} does not exist")]
    NoSuchQuestion(i32),
    #[error("question {0} is answered twice")]
    Twice(i32),
    #[error("question {0} needs an answer")]
    Unanswered(i32),
    #[error("question {0}: choose exactly one option")]
    OneChoice(i32),
    #[error("question {0}: choose at least one of its options, each once")]
    Choices(i32),
    #[error("question {0}: give a number")]
    Number(i32),
    #[error("question {0}: give a text of at most 500 printable characters")]
    Text(i32),
}

/// The answers as the survey's questions ask them, in question order; the
/// fields a question's kind does not use are dropped.
pub(crate) fn check_answers(
    questions: &[Question],
    answers: &[AnswerValue],
) -> Result<Vec<AnswerValue>, Refusal> {
    let mut by_question: BTreeMap<i32, &AnswerValue> = BTreeMap::new();
    for answer in answers {
        let index = answer.question;
        if index < 0 || index as usize >= questions.len() {
            return Err(Refusal::NoSuchQuestion(index));
        }
        if by_question.insert(index, answer).is_some() {
            return Err(Refusal::Twice(index));
        }
    }
    let mut checked = Vec::new();
    for (index, question) in questions.iter().enumerate() {
        let index = index as i32;
        let Some(answer) = by_question.get(&index) else {
            if question.required {
                return Err(Refusal::Unanswered(index));
            }
            continue;
        };
        let options = question.options.len() as i32;
        let mut value = AnswerValue {
            question: index,
            ..AnswerValue::default()
        };
        match QuestionKind::try_from(question.kind).unwrap_or_default() {
            QuestionKind::SingleChoice => match answer.choices[..] {
                [choice] if (0..options).contains(&choice) => value.choices = vec![choice],
                _ => return Err(Refusal::OneChoice(index)),
            },
            QuestionKind::MultipleChoice => {
                let mut choices = answer.choices.clone();
                choices.sort_unstable();
                choices.dedup();
                let valid = !choices.is_empty()
                    && choices.len() == answer.choices.len()
                    && choices.iter().all(|c| (0..options).contains(c));
                if !valid {
                    return Err(Refusal::Choices(index));
                }
                value.choices = choices;
            }
            QuestionKind::Number => {
                if !answer.number.is_finite() {
                    return Err(Refusal::Number(index));
                }
                value.number = answer.number;
            }
            QuestionKind::ShortText | QuestionKind::Unspecified => {
                let text = answer.text.trim();
                let printable = !text.chars().any(|c| c.is_control() && c != '\n');
                if text.is_empty() || !printable || text.chars().count() > MAX_TEXT_ANSWER {
                    return Err(Refusal::Text(index));
                }
                value.text = text.to_owned();
            }
        }
        checked.push(value);
    }
    Ok(checked)
}

/// Each question's tally over `answers`.
pub(crate) fn tally(questions: &[Question], answers: &[&[AnswerValue]]) -> Vec<QuestionTally> {
    questions
        .iter()
        .enumerate()
        .map(|(index, question)| {
            let index = index as i32;
            let given: Vec<&AnswerValue> = answers
                .iter()
                .filter_map(|all| all.iter().find(|a| a.question == index))
                .collect();
            let mut tally = QuestionTally {
                question: index,
                answered: given.len() as i64,
                ..QuestionTally::default()
            };
            match QuestionKind::try_from(question.kind).unwrap_or_default() {
                QuestionKind::SingleChoice | QuestionKind::MultipleChoice => {
                    tally.choices = question
                        .options
                        .iter()
                        .enumerate()
                        .map(|(option, name)| ChoiceCount {
                            option: name.clone(),
                            count: given
                                .iter()
                                .filter(|a| a.choices.contains(&(option as i32)))
                                .count() as i64,
                        })
                        .collect();
                }
                QuestionKind::Number if !given.is_empty() => {
                    let numbers = given.iter().map(|a| a.number);
                    tally.sum = numbers.clone().sum();
                    tally.min = numbers.clone().fold(f64::INFINITY, f64::min);
                    tally.max = numbers.fold(f64::NEG_INFINITY, f64::max);
                }
                _ => {}
            }
            tally
        })
        .collect()
}

/// Who is to answer: a child (per-child surveys) or a guardian.
pub(crate) fn unit(per_child: bool, guardian: Uuid, student: Uuid) -> Uuid {
    if per_child { student } else { guardian }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(kind: QuestionKind, options: &[&str], required: bool) -> Question {
        Question {
            prompt: "?".into(),
            kind: kind as i32,
            options: options.iter().map(|o| o.to_string()).collect(),
            required,
        }
    }

    fn answer(question: i32, choices: &[i32], number: f64, text: &str) -> AnswerValue {
        AnswerValue {
            question,
            choices: choices.to_vec(),
            number,
            text: text.into(),
        }
    }

    #[test]
    fn given_questions_and_answers_then_the_answers_are_taken_or_refused() {
        let questions = [
            question(
                QuestionKind::SingleChoice,
                &["Đồng ý", "Không đồng ý"],
                true,
            ),
            question(
                QuestionKind::MultipleChoice,
                &["Thứ Hai", "Thứ Tư", "Thứ Sáu"],
                false,
            ),
            question(QuestionKind::Number, &[], false),
            question(QuestionKind::ShortText, &[], false),
        ];
        let consent = answer(0, &[0], 0.0, "");
        let cases: [(&str, Vec<AnswerValue>, Result<usize, Refusal>); 12] = [
            ("the required one only", vec![consent.clone()], Ok(1)),
            (
                "all four",
                vec![
                    consent.clone(),
                    answer(1, &[2, 0], 0.0, ""),
                    answer(2, &[], 2.0, ""),
                    answer(3, &[], 0.0, " Cháu bị dị ứng tôm "),
                ],
                Ok(4),
            ),
            ("nothing", vec![], Err(Refusal::Unanswered(0))),
            (
                "two options of a single choice",
                vec![answer(0, &[0, 1], 0.0, "")],
                Err(Refusal::OneChoice(0)),
            ),
            (
                "an option out of range",
                vec![answer(0, &[2], 0.0, "")],
                Err(Refusal::OneChoice(0)),
            ),
            (
                "no option",
                vec![answer(0, &[], 0.0, "")],
                Err(Refusal::OneChoice(0)),
            ),
            (
                "an option twice",
                vec![consent.clone(), answer(1, &[1, 1], 0.0, "")],
                Err(Refusal::Choices(1)),
            ),
            (
                "a negative option",
                vec![consent.clone(), answer(1, &[-1], 0.0, "")],
                Err(Refusal::Choices(1)),
            ),
            (
                "no number",
                vec![consent.clone(), answer(2, &[], f64::NAN, "")],
                Err(Refusal::Number(2)),
            ),
            (
                "an empty text",
                vec![consent.clone(), answer(3, &[], 0.0, "  ")],
                Err(Refusal::Text(3)),
            ),
            (
                "a question twice",
                vec![consent.clone(), consent.clone()],
                Err(Refusal::Twice(0)),
            ),
            (
                "a question that is not there",
                vec![consent.clone(), answer(4, &[], 0.0, "x")],
                Err(Refusal::NoSuchQuestion(4)),
            ),
        ];
        for (case, answers, expected) in cases {
            assert_eq!(
                check_answers(&questions, &answers).map(|checked| checked.len()),
                expected,
                "{case}"
            );
        }
        let long = "ư".repeat(MAX_TEXT_ANSWER + 1);
        assert_eq!(
            check_answers(&questions, &[consent.clone(), answer(3, &[], 0.0, &long)]),
            Err(Refusal::Text(3))
        );
        let checked = check_answers(&questions, &[answer(3, &[1], 5.0, " x "), consent]).unwrap();
        assert_eq!(
            checked[1],
            answer(3, &[], 0.0, "x"),
            "unused fields dropped, text trimmed"
        );
    }

    #[test]
    fn answers_are_tallied_per_question() {
        let questions = [
            question(QuestionKind::SingleChoice, &["Có", "Không"], true),
            question(QuestionKind::Number, &[], false),
        ];
        let first = [answer(0, &[0], 0.0, ""), answer(1, &[], 2.0, "")];
        let second = [answer(0, &[0], 0.0, "")];
        let third = [answer(0, &[1], 0.0, ""), answer(1, &[], 5.0, "")];
        let tallies = tally(&questions, &[&first, &second, &third]);
        assert_eq!(tallies[0].answered, 3);
        let counts: Vec<(&str, i64)> = tallies[0]
            .choices
            .iter()
            .map(|c| (c.option.as_str(), c.count))
            .collect();
        assert_eq!(counts, [("Có", 2), ("Không", 1)]);
        assert_eq!(
            (
                tallies[1].answered,
                tallies[1].sum,
                tallies[1].min,
                tallies[1].max
            ),
            (2, 7.0, 2.0, 5.0)
        );
        assert_eq!(tally(&questions, &[])[1].answered, 0);
    }
}
