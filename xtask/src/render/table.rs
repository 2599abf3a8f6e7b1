//! Tidy CSV output: one row a record, header from the record's field names.
//!
//! Non-finite numbers are written explicitly (`NaN`, `inf`, `-inf`), never as empty cells.

use std::error::Error;
use std::path::Path;

use serde::Serialize;

/// Writes `rows` to `path` as CSV with a header row (atomically, through
/// [`super::OutputFile`]).
pub fn write_csv<T: Serialize>(
    path: &Path,
    rows: impl IntoIterator<Item = T>,
) -> Result<(), Box<dyn Error>> {
    let mut out = super::OutputFile::create(path)?;
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        for row in rows {
            writer.serialize(row)?;
        }
        writer.flush()?;
    }
    Ok(out.persist()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        step: usize,
        loss: f64,
    }

    #[test]
    fn non_finite_values_are_written_explicitly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let rows = [
            Row { step: 0, loss: 1.5 },
            Row {
                step: 1,
                loss: f64::NAN,
            },
            Row {
                step: 2,
                loss: f64::INFINITY,
            },
            Row {
                step: 3,
                loss: f64::NEG_INFINITY,
            },
        ];
        write_csv(&path, rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "step,loss\n0,1.5\n1,NaN\n2,inf\n3,-inf\n");
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let back: Vec<f64> = reader
            .records()
            .map(|r| r.unwrap()[1].parse().unwrap())
            .collect();
        assert!(back[1].is_nan() && back[2] == f64::INFINITY && back[3] == f64::NEG_INFINITY);
    }
}
