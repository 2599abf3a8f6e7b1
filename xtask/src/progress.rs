//! Progress of long sweeps: a bar on a terminal, a few plain lines in a redirected log.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use symstab_sweep::runner::Progress;

/// Reports sweep progress as an indicatif bar (terminal) or as lines at every 25 %
/// (non-terminal); [`SweepProgress::finish`] prints the summary in both cases.
pub struct SweepProgress {
    name: String,
    bar: Option<ProgressBar>,
    next_quarter: Mutex<usize>,
    started: Instant,
}

impl SweepProgress {
    /// Progress of the sweep called `name` over `total_cells` cells.
    pub fn new(name: &str, total_cells: usize) -> SweepProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total_cells as u64);
            let style =
                ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len} cells ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.set_message(name.to_owned());
            bar
        });
        SweepProgress {
            name: name.to_owned(),
            bar,
            next_quarter: Mutex::new(1),
            started: Instant::now(),
        }
    }

    /// Ends the bar and prints one summary line.
    pub fn finish(&self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!(
            "  {}: {summary} in {:.2} s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

impl Progress for SweepProgress {
    fn report(&self, done_cells: usize, total_cells: usize) {
        match &self.bar {
            Some(bar) => bar.set_position(done_cells as u64),
            None => {
                let mut next = self.next_quarter.lock().unwrap_or_else(|e| e.into_inner());
                while *next <= 3 && done_cells * 4 >= *next * total_cells {
                    eprintln!("  {}: {}% of {total_cells} cells", self.name, *next * 25);
                    *next += 1;
                }
            }
        }
    }
}
