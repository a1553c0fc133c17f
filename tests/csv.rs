//! A learner's own CSV data: read back exactly, and every malformed file is refused with its
//! file, line and column.

use std::path::{Path, PathBuf};

use mllab::data::csv::{read_classes, read_regression};
use mllab::data::{ClassSet, ClassesSpec, CpSet, CpSpec};
use mllab::lessons::Lesson;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_regression_set_written_as_csv_reads_back_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let set = CpSet::generate(
        &CpSpec {
            train: 30,
            test: 12,
            seed: Some(5),
        },
        0,
    );
    let mut text = String::from("x,y,species,split\n");
    for (split, pts) in [("train", &set.train), ("test", &set.test)] {
        for p in pts {
            // `{}` prints the shortest text that parses back to the same f64.
            text += &format!("{},{},s{},{split}\n", p.x, p.y, p.species);
        }
    }
    let (back, species) = read_regression(&write(tmp.path(), "cp.csv", &text)).unwrap();
    assert_eq!(back.train.len(), 30);
    assert_eq!(back.test.len(), 12);
    for (a, b) in set
        .train
        .iter()
        .chain(&set.test)
        .zip(back.train.iter().chain(&back.test))
    {
        assert_eq!((a.x, a.y), (b.x, b.y));
        assert_eq!(species[b.species], format!("s{}", a.species));
    }
}

#[test]
fn a_two_class_set_written_as_csv_reads_back_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let set = ClassSet::generate(&ClassesSpec::default(), 2);
    let mut text = String::from("x1,x2,label,split\n");
    for (split, pts) in [("train", &set.train), ("test", &set.test)] {
        for p in pts {
            text += &format!("{},{},{},{split}\n", p.x[0], p.x[1], set.names[p.class]);
        }
    }
    let back = read_classes(&write(tmp.path(), "c.csv", &text)).unwrap();
    // Labels are sorted: "normal" < "water", so the classes swap places.
    assert_eq!(back.names, ["normal".to_string(), "water".to_string()]);
    assert_eq!(back.train.len(), set.train.len());
    for (a, b) in set.train.iter().zip(&back.train) {
        assert_eq!(a.x, b.x);
        assert_eq!(set.names[a.class], back.names[b.class]);
    }
}

#[test]
fn without_a_split_column_every_row_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let (set, species) =
        read_regression(&write(tmp.path(), "a.csv", "x,y\n1,2\n3,4\n5,7\n")).unwrap();
    assert_eq!((set.train.len(), set.test.len()), (3, 0));
    assert_eq!(species, vec!["all"]);
}

fn regression_error(text: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let e = read_regression(&write(tmp.path(), "bad.csv", text)).unwrap_err();
    e.to_string()
}

fn classes_error(text: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let e = read_classes(&write(tmp.path(), "bad.csv", text)).unwrap_err();
    e.to_string()
}

#[test]
fn a_cell_that_is_not_a_number_is_named_by_line_and_column() {
    let msg = regression_error("x,y\n1,2\n3,four\n");
    assert!(
        msg.contains("bad.csv:3, column 2 (y): `four` is not a number"),
        "{msg}"
    );
}

#[test]
fn a_missing_column_is_named_with_the_columns_expected() {
    let msg = regression_error("x,z\n1,2\n");
    assert!(
        msg.contains("bad.csv:1") && msg.contains("no `y` column") && msg.contains("x,y"),
        "{msg}"
    );
}

#[test]
fn a_row_with_too_few_cells_is_named_by_line() {
    let msg = regression_error("x,y\n1,2\n3\n");
    assert!(
        msg.contains("bad.csv:3") && msg.contains("1 cells but the header has 2"),
        "{msg}"
    );
}

#[test]
fn a_split_that_is_neither_train_nor_test_is_named() {
    let msg = regression_error("x,y,split\n1,2,train\n3,4,validate\n");
    assert!(
        msg.contains("bad.csv:3, column 3 (split): `validate` is neither train nor test"),
        "{msg}"
    );
}

#[test]
fn a_header_without_rows_is_refused() {
    let msg = regression_error("x,y\n");
    assert!(msg.contains("no rows"), "{msg}");
}

#[test]
fn an_infinite_value_is_refused() {
    let msg = regression_error("x,y\n1,inf\n2,3\n");
    assert!(msg.contains("bad.csv:2, column 2 (y)"), "{msg}");
}

#[test]
fn a_file_that_is_not_text_is_refused_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bin.csv");
    std::fs::write(&p, b"x,y\n1,2\n\xff\xfe,3\n").unwrap();
    let msg = read_regression(&p).unwrap_err().to_string();
    assert!(msg.contains("bin.csv:3") && msg.contains("UTF-8"), "{msg}");
}

#[test]
fn a_two_class_file_with_one_label_is_refused() {
    let msg = classes_error("x1,x2,label\n1,2,a\n3,4,a\n");
    assert!(msg.contains("exactly 2 labels, found 1"), "{msg}");
}

#[test]
fn a_two_class_file_with_three_labels_names_the_line_of_the_third() {
    let msg = classes_error("x1,x2,label\n1,2,a\n3,4,b\n5,6,a\n7,8,c\n");
    assert!(
        msg.contains("bad.csv:5") && msg.contains("found 3"),
        "{msg}"
    );
}

#[test]
fn a_class_with_too_few_training_rows_is_refused() {
    let msg =
        classes_error("x1,x2,label,split\n1,2,a,train\n3,4,a,train\n5,6,b,train\n7,8,b,test\n");
    assert!(
        msg.contains("class `b` needs at least 2 training rows"),
        "{msg}"
    );
}

#[test]
fn a_missing_file_is_reported_with_its_path() {
    let msg = read_regression(Path::new("/nonexistent/data.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("/nonexistent/data.csv") && msg.contains("cannot read"),
        "{msg}"
    );
}

fn lesson_with_csv(dir: &Path, csv: &str) -> PathBuf {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/regression-gd.yaml"),
    )
    .unwrap();
    let text = src.replace("  source: cp\n  train: 10           # the lecture used 10 creatures to train …\n  test: 10            # … and 10 others to test\n", &format!("  source: csv\n  path: {csv}\n"));
    assert!(
        text.contains("source: csv"),
        "the lesson's data block changed; update this test"
    );
    write(dir, "mine.yaml", &text)
}

#[test]
fn a_lesson_reads_its_csv_relative_to_the_lesson_file() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "points.csv",
        "x,y,split\n10,25,train\n20,41,train\n30,62,train\n40,79,test\n",
    );
    let lesson = Lesson::load_checked(&lesson_with_csv(tmp.path(), "points.csv"), &[]).unwrap();
    let (set, _) = lesson.data.load_regression(0).unwrap();
    assert_eq!((set.train.len(), set.test.len()), (3, 1));
}

#[test]
fn a_lesson_whose_csv_is_broken_fails_its_check_with_the_csv_line() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "points.csv", "x,y\n10,25\n20,oops\n");
    let errors = Lesson::load_checked(&lesson_with_csv(tmp.path(), "points.csv"), &[]).unwrap_err();
    let e = &errors.0[0];
    assert!(e.file.ends_with("points.csv"));
    assert_eq!((e.line, e.column), (Some(3), Some(2)));
    assert!(e.to_string().contains("`oops` is not a number"), "{e}");
}

#[test]
fn a_lesson_whose_csv_is_missing_is_refused_at_data_path() {
    let tmp = tempfile::tempdir().unwrap();
    let errors = Lesson::load(&lesson_with_csv(tmp.path(), "nowhere.csv"), &[]).unwrap_err();
    let e = &errors.0[0];
    assert_eq!(e.key, "data.path");
    assert!(
        e.message.contains("no such file") && e.line.is_some(),
        "{e}"
    );
}
