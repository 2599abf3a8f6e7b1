//! The stall/revert rule of teleport training, as a state machine over the loss sequence.
//!
//! The monitor sees the loss L_t before every step t = 0, 1, 2, … and answers with a
//! [`StallDecision`]. With the default [`StallRule`] (the study's settings):
//!
//! - **Revert** (checked first): at every t that is a positive multiple of
//!   `revert_every` (20), if a point is saved and L_t > (1 + `revert_rise`)·L_{t−20}
//!   (a rise of more than 10 % over the last 20 steps), go back to the saved point. The
//!   saved point is used up by a revert.
//! - **Teleport**: at every t that is a positive multiple of `check_every` (100) once at
//!   least 2·`window` losses have been seen, if the mean m₁ of the last `window` (50) losses
//!   L_{t−49..=t} and the mean m₀ of the 50 before satisfy |m₁ − m₀| ≤ `stall_tolerance`·|m₀|
//!   (0.5 %), save the current point and teleport — but only if the revert rule can still
//!   judge the teleport: with a last step T set ([`StallMonitor::with_last_step`]), no
//!   teleport happens at t > T − `revert_every` (fewer than `revert_every` steps left), so
//!   every teleport reaches at least one revert check.
//!
//! The monitor only decides; the caller saves, jumps and restores. Losses keep their step
//! indices across a revert (a revert costs the steps spent since the save).

use crate::error::{Error, Result};

/// Thresholds of the stall/revert rule (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StallRule {
    /// Steps between stall checks (study: 100).
    pub check_every: usize,
    /// Length of each of the two averaging windows (study: 50).
    pub window: usize,
    /// Largest relative change of the windowed mean that counts as a stall (study: 0.005).
    pub stall_tolerance: f64,
    /// Steps between revert checks, and the span the rise is measured over (study: 20).
    pub revert_every: usize,
    /// Relative rise over `revert_every` steps that triggers a revert (study: 0.10).
    pub revert_rise: f64,
}

impl Default for StallRule {
    fn default() -> Self {
        StallRule {
            check_every: 100,
            window: 50,
            stall_tolerance: 0.005,
            revert_every: 20,
            revert_rise: 0.10,
        }
    }
}

impl StallRule {
    /// Checks the thresholds: positive step counts, finite non-negative fractions.
    pub fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("check_every", self.check_every),
            ("window", self.window),
            ("revert_every", self.revert_every),
        ] {
            if value == 0 {
                return Err(Error::invalid_value(name, value, "must be >= 1"));
            }
        }
        for (name, value) in [
            ("stall_tolerance", self.stall_tolerance),
            ("revert_rise", self.revert_rise),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::invalid_value(name, value, "must be finite and >= 0"));
            }
        }
        Ok(())
    }
}

/// What the caller should do before the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallDecision {
    /// Take the next step.
    Continue,
    /// Save the current point, then jump to an equivalent one.
    Teleport,
    /// Go back to the saved point.
    Revert,
}

/// The state of the stall/revert rule: the losses seen and whether a point is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct StallMonitor {
    rule: StallRule,
    losses: Vec<f64>,
    saved: bool,
    last_step: Option<usize>,
}

impl StallMonitor {
    /// A monitor with no losses and nothing saved. Errors: invalid thresholds.
    pub fn new(rule: StallRule) -> Result<Self> {
        rule.validate()?;
        Ok(StallMonitor {
            rule,
            losses: Vec::new(),
            saved: false,
            last_step: None,
        })
    }

    /// The same monitor, told that the run ends at step `last_step` (the last loss it
    /// will see is L_`last_step`): it then never teleports at a step t with
    /// t + `revert_every` > `last_step`, where the revert rule could not judge the jump.
    pub fn with_last_step(mut self, last_step: usize) -> Self {
        self.last_step = Some(last_step);
        self
    }

    /// The last step set by [`StallMonitor::with_last_step`], if any.
    pub fn last_step(&self) -> Option<usize> {
        self.last_step
    }

    /// The rule.
    pub fn rule(&self) -> &StallRule {
        &self.rule
    }

    /// True while a saved point is available for a revert.
    pub fn has_saved_point(&self) -> bool {
        self.saved
    }

    /// The losses seen so far (L_0, L_1, …).
    pub fn losses(&self) -> &[f64] {
        &self.losses
    }

    /// Gives up the saved point (the caller restored it for a reason of its own, e.g. a
    /// diverged loss). Returns whether a point was saved.
    pub fn take_saved_point(&mut self) -> bool {
        std::mem::replace(&mut self.saved, false)
    }

    /// Records L_t (t = number of losses seen before) and decides. After
    /// [`StallDecision::Teleport`] the monitor counts a point as saved; after
    /// [`StallDecision::Revert`] it counts none.
    pub fn observe(&mut self, loss: f64) -> StallDecision {
        self.losses.push(loss);
        let t = self.losses.len() - 1;
        let r = self.rule;
        if self.saved && t >= r.revert_every && t.is_multiple_of(r.revert_every) {
            let before = self.losses[t - r.revert_every];
            // A NaN loss counts as a rise too.
            let limit = (1.0 + r.revert_rise) * before;
            if matches!(
                loss.partial_cmp(&limit),
                Some(std::cmp::Ordering::Greater) | None
            ) {
                self.saved = false;
                return StallDecision::Revert;
            }
        }
        let judgeable = self
            .last_step
            .is_none_or(|last| t.saturating_add(r.revert_every) <= last);
        if judgeable && t > 0 && t.is_multiple_of(r.check_every) && t + 1 >= 2 * r.window {
            let recent = mean(&self.losses[t + 1 - r.window..=t]);
            let earlier = mean(&self.losses[t + 1 - 2 * r.window..t + 1 - r.window]);
            if (recent - earlier).abs() <= r.stall_tolerance * earlier.abs() {
                self.saved = true;
                return StallDecision::Teleport;
            }
        }
        StallDecision::Continue
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}
