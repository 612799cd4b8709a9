//! One table type for every measurement: a header and rows of cells, written
//! as the Markdown the book includes and the commands print.

use std::fmt;

/// A Markdown table, built row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: ToString>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per column.
    pub fn push<S: ToString>(
        &mut self,
        cells: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        let row: Vec<String> = cells.into_iter().map(|s| s.to_string()).collect();
        assert_eq!(
            row.len(),
            self.header.len(),
            "a row of {} cells in a table of {} columns ({:?})",
            row.len(),
            self.header.len(),
            self.header
        );
        self.rows.push(row);
        self
    }

    /// Inserts a row before row `index` (0: the first under the header).
    pub fn insert<S: ToString>(
        &mut self,
        index: usize,
        cells: impl IntoIterator<Item = S>,
    ) {
        self.push(cells);
        let row = self.rows.pop().expect("just pushed");
        self.rows.insert(index, row);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The header line and its rule: what a command prints before the rows.
    pub fn header_markdown(&self) -> String {
        format!(
            "{}\n|{}",
            line(&self.header),
            "---|".repeat(self.header.len())
        )
    }

    /// One row as a Markdown line, to print as soon as it is measured.
    pub fn row_markdown(&self, index: usize) -> String {
        line(&self.rows[index])
    }

    /// The last row added, as a Markdown line.
    pub fn last_row_markdown(&self) -> String {
        self.row_markdown(self.rows.len() - 1)
    }
}

fn line(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

/// The whole table, without a newline after the last row.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.header_markdown())?;
        for row in &self.rows {
            write!(f, "\n{}", line(row))?;
        }
        Ok(())
    }
}

/// "91% (82/90)": the share of `ok` among `all`, in whole percent.
pub fn rate(ok: usize, all: usize) -> String {
    format!("{:.0}% ({ok}/{all})", 100.0 * ok as f32 / all.max(1) as f32)
}

/// "80% (16/20)" of the verdicts that are `Ok`.
pub fn success_rate<'a>(
    verdicts: impl IntoIterator<Item = &'a Result<(), String>>,
) -> String {
    let (mut ok, mut all) = (0, 0);
    for verdict in verdicts {
        all += 1;
        ok += usize::from(verdict.is_ok());
    }
    rate(ok, all)
}

/// `✓ "a red circle": as asked` or `✗ "…": what the judge found wrong`, and
/// a newline.
pub fn verdict_line(prompt: &str, verdict: &Result<(), String>) -> String {
    let mark = if verdict.is_ok() { "✓" } else { "✗" };
    let reason = verdict.as_ref().err().map_or("as asked", String::as_str);
    format!("{mark} {prompt:?}: {reason}\n")
}

/// "97.2%": a share with one decimal.
pub fn percent(share: f32) -> String {
    format!("{:.1}%", 100.0 * share)
}

/// The median of some timings, in seconds (0 for none).
pub fn median(seconds: &[f32]) -> f32 {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_markdown_the_book_includes() {
        let mut table = Table::new(["method", "judged right"]);
        table.push(["VQ", &rate(9, 10)]);
        table.insert(0, ["pixels", "0% (0/10)"]);
        assert_eq!(
            table.to_string(),
            "| method | judged right |\n|---|---|\n| pixels | 0% (0/10) |\n| VQ | 90% (9/10) |"
        );
        assert_eq!(table.last_row_markdown(), "| VQ | 90% (9/10) |");
        assert_eq!(table.len(), 2);
    }

    #[test]
    #[should_panic(expected = "a row of 1 cells in a table of 2 columns")]
    fn a_row_must_fill_every_column() {
        Table::new(["a", "b"]).push(["only one"]);
    }

    #[test]
    fn rates_percentages_and_medians() {
        assert_eq!(rate(2, 3), "67% (2/3)");
        assert_eq!(rate(0, 0), "0% (0/0)");
        assert_eq!(success_rate(&[Ok(()), Err("no".into())]), "50% (1/2)");
        assert_eq!(percent(0.972), "97.2%");
        assert_eq!(
            verdict_line("a red circle", &Ok(())),
            "✓ \"a red circle\": as asked\n"
        );
        assert_eq!(verdict_line("x", &Err("moved".into())), "✗ \"x\": moved\n");
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[]), 0.0);
    }
}
