//! The learner's own data as CSV: `x,y[,species]` for regression, `x1,x2,label` for two
//! classes, each with an optional `split` column (`train` or `test`; without it every row
//! trains). Every problem is reported with the file, the line and the column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::classes::{ClassSet, Labelled};
use super::cp::{CpPoint, CpSet};

/// `data: {source: csv, path: FILE}`; a relative path is relative to the lesson file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSpec {
    pub path: PathBuf,
}

/// A problem in a CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvError {
    pub file: PathBuf,
    pub line: Option<u64>,
    /// 1-based column number and its header name.
    pub column: Option<(usize, String)>,
    pub message: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some((c, name)) = &self.column {
            write!(f, ", column {c} ({name})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for CsvError {}

/// Rows of a CSV file with a header, as text cells, plus where each row started.
struct Table {
    file: PathBuf,
    header: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    fn read(path: &Path) -> Result<Table, CsvError> {
        let err = |line: Option<u64>, message: String| CsvError {
            file: path.to_path_buf(),
            line,
            column: None,
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_path(path)
            .map_err(|e| err(None, format!("cannot read the file: {}", io_text(&e))))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| err(Some(1), format!("cannot read the header: {e}")))?
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map(|p| p.line());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("this row has {len} cells but the header has {expected_len}")
                    }
                    csv::ErrorKind::Utf8 { .. } => "this row is not valid UTF-8 text".to_string(),
                    _ => e.to_string(),
                };
                err(line, message)
            })?;
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record.iter().map(str::to_string).collect()));
        }
        if rows.is_empty() {
            return Err(err(None, "the file has a header but no rows".into()));
        }
        Ok(Table {
            file: path.to_path_buf(),
            header,
            rows,
        })
    }

    fn column(
        &self,
        name: &str,
        required: bool,
        expected: &str,
    ) -> Result<Option<usize>, CsvError> {
        match self.header.iter().position(|h| h == name) {
            Some(i) => Ok(Some(i)),
            None if required => Err(CsvError {
                file: self.file.clone(),
                line: Some(1),
                column: None,
                message: format!(
                    "the header has no `{name}` column; expected the columns {expected} (found: {})",
                    self.header.join(",")
                ),
            }),
            None => Ok(None),
        }
    }

    fn number(&self, line: u64, row: &[String], col: usize) -> Result<f64, CsvError> {
        let cell = &row[col];
        match cell.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(CsvError {
                file: self.file.clone(),
                line: Some(line),
                column: Some((col + 1, self.header[col].clone())),
                message: format!("`{cell}` is not a number"),
            }),
        }
    }

    /// `true` for a training row; reads the optional split column.
    fn is_train(&self, line: u64, row: &[String], split: Option<usize>) -> Result<bool, CsvError> {
        let Some(col) = split else { return Ok(true) };
        match row[col].to_ascii_lowercase().as_str() {
            "train" => Ok(true),
            "test" => Ok(false),
            other => Err(CsvError {
                file: self.file.clone(),
                line: Some(line),
                column: Some((col + 1, "split".into())),
                message: format!("`{other}` is neither train nor test"),
            }),
        }
    }
}

fn io_text(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// Reads `x,y[,species][,split]`. Species are named freely; they are numbered in order of
/// first appearance (at most 20).
pub fn read_regression(path: &Path) -> Result<(CpSet, Vec<String>), CsvError> {
    let t = Table::read(path)?;
    let expected = "x,y (optional: species, split)";
    let x = t.column("x", true, expected)?.unwrap_or(0);
    let y = t.column("y", true, expected)?.unwrap_or(0);
    let species_col = t.column("species", false, expected)?;
    let split = t.column("split", false, expected)?;
    let mut species: Vec<String> = Vec::new();
    let mut set = CpSet {
        train: Vec::new(),
        test: Vec::new(),
    };
    for (line, row) in &t.rows {
        let p = CpPoint {
            x: t.number(*line, row, x)?,
            y: t.number(*line, row, y)?,
            species: match species_col {
                None => 0,
                Some(c) => match species.iter().position(|s| *s == row[c]) {
                    Some(i) => i,
                    None if species.len() < 20 => {
                        species.push(row[c].clone());
                        species.len() - 1
                    }
                    None => {
                        return Err(CsvError {
                            file: t.file.clone(),
                            line: Some(*line),
                            column: Some((c + 1, "species".into())),
                            message: "more than 20 different species; merge some of them".into(),
                        });
                    }
                },
            },
        };
        if t.is_train(*line, row, split)? {
            set.train.push(p)
        } else {
            set.test.push(p)
        }
    }
    if set.train.len() < 2 {
        return Err(CsvError {
            file: t.file,
            line: None,
            column: None,
            message: "at least 2 training rows are needed".into(),
        });
    }
    if species.is_empty() {
        species.push("all".into());
    }
    Ok((set, species))
}

/// Reads `x1,x2,label[,split]` with exactly two distinct labels (sorted: the first is class 0).
pub fn read_classes(path: &Path) -> Result<ClassSet, CsvError> {
    let t = Table::read(path)?;
    let expected = "x1,x2,label (optional: split)";
    let c1 = t.column("x1", true, expected)?.unwrap_or(0);
    let c2 = t.column("x2", true, expected)?.unwrap_or(0);
    let cl = t.column("label", true, expected)?.unwrap_or(0);
    let split = t.column("split", false, expected)?;
    let mut labels: BTreeMap<String, u64> = BTreeMap::new();
    for (line, row) in &t.rows {
        labels.entry(row[cl].clone()).or_insert(*line);
    }
    if labels.len() != 2 {
        let found: Vec<&String> = labels.keys().collect();
        let line = labels.values().nth(2).copied();
        return Err(CsvError {
            file: t.file.clone(),
            line,
            column: Some((cl + 1, "label".into())),
            message: format!(
                "a two-class lesson needs exactly 2 labels, found {}: {found:?}",
                labels.len()
            ),
        });
    }
    let names: Vec<String> = labels.keys().cloned().collect();
    let mut set = ClassSet {
        names: [names[0].clone(), names[1].clone()],
        train: Vec::new(),
        test: Vec::new(),
    };
    for (line, row) in &t.rows {
        let p = Labelled {
            x: [t.number(*line, row, c1)?, t.number(*line, row, c2)?],
            class: usize::from(row[cl] == names[1]),
        };
        if t.is_train(*line, row, split)? {
            set.train.push(p)
        } else {
            set.test.push(p)
        }
    }
    for (k, name) in names.iter().enumerate() {
        if set.train.iter().filter(|p| p.class == k).count() < 2 {
            return Err(CsvError {
                file: t.file,
                line: None,
                column: None,
                message: format!("class `{name}` needs at least 2 training rows"),
            });
        }
    }
    Ok(set)
}
