//! The stall/revert state machine on scripted loss sequences.

use symstab_core::dynamics::{StallDecision, StallMonitor, StallRule};

fn decisions(rule: StallRule, losses: &[f64]) -> Vec<(usize, StallDecision)> {
    let mut m = StallMonitor::new(rule).unwrap();
    losses
        .iter()
        .enumerate()
        .map(|(t, &l)| (t, m.observe(l)))
        .filter(|(_, d)| *d != StallDecision::Continue)
        .collect()
}

#[test]
fn a_flat_loss_teleports_every_hundred_steps() {
    let losses = vec![1.0; 350];
    assert_eq!(
        decisions(StallRule::default(), &losses),
        vec![
            (100, StallDecision::Teleport),
            (200, StallDecision::Teleport),
            (300, StallDecision::Teleport)
        ]
    );
}

#[test]
fn a_falling_loss_never_teleports() {
    // 0.1 % per step: the 50-step means differ by about 5 %.
    let losses: Vec<f64> = (0..400).map(|t| 0.999f64.powi(t)).collect();
    assert!(decisions(StallRule::default(), &losses).is_empty());
}

#[test]
fn the_stall_threshold_is_half_a_percent_of_the_earlier_mean() {
    // Means of steps 1..=50 and 51..=100 for a loss that drops by `d` at step 51.
    let script = |d: f64| -> Vec<f64> {
        (0..=100)
            .map(|t| if t <= 50 { 1.0 } else { 1.0 - d })
            .collect()
    };
    assert_eq!(
        decisions(StallRule::default(), &script(0.004)),
        vec![(100, StallDecision::Teleport)]
    );
    assert!(decisions(StallRule::default(), &script(0.006)).is_empty());
}

#[test]
fn a_rise_of_more_than_ten_percent_after_a_teleport_reverts() {
    // Flat until 100 (teleport), then the loss rises 20 % by step 120.
    let mut losses = vec![1.0; 101];
    losses.extend((1..=30).map(|k| 1.0 + 0.01 * k as f64));
    let d = decisions(StallRule::default(), &losses);
    assert_eq!(
        d,
        vec![(100, StallDecision::Teleport), (120, StallDecision::Revert)]
    );
}

#[test]
fn exactly_ten_percent_does_not_revert_and_nothing_saved_never_reverts() {
    let mut losses = vec![1.0; 101];
    losses.extend(std::iter::repeat_n(1.1, 20));
    let d = decisions(StallRule::default(), &losses);
    assert_eq!(d, vec![(100, StallDecision::Teleport)]);
    // A 50 % jump at step 60 with no teleport before it: no revert.
    let mut losses = vec![1.0; 60];
    losses.extend(std::iter::repeat_n(1.5, 30));
    assert!(decisions(StallRule::default(), &losses).is_empty());
}

#[test]
fn a_revert_uses_up_the_saved_point_and_nan_counts_as_a_rise() {
    let mut m = StallMonitor::new(StallRule::default()).unwrap();
    for _ in 0..=100 {
        m.observe(1.0);
    }
    assert!(m.has_saved_point());
    for _ in 101..120 {
        assert_eq!(m.observe(1.0), StallDecision::Continue);
    }
    assert_eq!(m.observe(f64::NAN), StallDecision::Revert);
    assert!(!m.has_saved_point());
    // Losses keep rising afterwards: with nothing saved, no second revert.
    for t in 121..=160 {
        assert_eq!(m.observe(t as f64), StallDecision::Continue, "t = {t}");
    }
}

#[test]
fn every_threshold_is_configurable() {
    let rule = StallRule {
        check_every: 10,
        window: 5,
        stall_tolerance: 0.05,
        revert_every: 4,
        revert_rise: 0.5,
    };
    // 1 % per step decrease: windows of 5 differ by 1 − 0.99⁵ ≈ 4.9 %, inside the 5 %
    // tolerance → teleport at 10; then a 60 % rise after step 12.
    let mut losses: Vec<f64> = (0..=10).map(|t| 0.99f64.powi(t)).collect();
    let base = losses[10];
    losses.extend((11..=12).map(|_| base));
    losses.push(base * 1.6);
    losses.push(base * 1.6);
    // The revert check at t = 12 compares L_12 = base with L_8 > base: no revert.
    let d = decisions(rule, &losses);
    assert_eq!(d[0], (10, StallDecision::Teleport));
    assert_eq!(
        d.len(),
        1,
        "the rise at 13–14 is checked only at t = 16: {d:?}"
    );
    losses.extend([base * 1.6, base * 1.6]);
    let d = decisions(rule, &losses);
    assert_eq!(
        d,
        vec![(10, StallDecision::Teleport), (16, StallDecision::Revert)]
    );
    assert!(StallMonitor::new(StallRule { window: 0, ..rule }).is_err());
    assert!(
        StallMonitor::new(StallRule {
            stall_tolerance: -1.0,
            ..rule
        })
        .is_err()
    );
}

fn decisions_until(
    rule: StallRule,
    losses: &[f64],
    last_step: usize,
) -> Vec<(usize, StallDecision)> {
    let mut m = StallMonitor::new(rule).unwrap().with_last_step(last_step);
    losses
        .iter()
        .enumerate()
        .map(|(t, &l)| (t, m.observe(l)))
        .filter(|(_, d)| *d != StallDecision::Continue)
        .collect()
}

#[test]
fn no_teleport_when_fewer_steps_remain_than_the_revert_window() {
    use StallDecision::Teleport;
    let rule = StallRule::default();
    // A run of 300 steps (L_0..=L_300): the stall at t = 300 is not acted on, since no
    // revert check could follow it.
    let losses = vec![1.0; 301];
    assert_eq!(
        decisions_until(rule, &losses, 300),
        vec![(100, Teleport), (200, Teleport)]
    );
    // 19 steps left at t = 300 is still too few; exactly 20 is enough.
    let losses = vec![1.0; 321];
    assert_eq!(
        decisions_until(rule, &losses, 319),
        vec![(100, Teleport), (200, Teleport)]
    );
    assert_eq!(
        decisions_until(rule, &losses, 320),
        vec![(100, Teleport), (200, Teleport), (300, Teleport)]
    );
    // Without a last step the monitor teleports at t = 300 as before.
    assert_eq!(
        decisions(rule, &vec![1.0; 301]),
        vec![(100, Teleport), (200, Teleport), (300, Teleport)]
    );
}

#[test]
fn a_teleport_near_the_end_still_gets_its_revert_check() {
    // Teleport at t = 100 with the run ending at t = 120: the rise at t = 120 reverts.
    let mut losses = vec![1.0; 101];
    losses.extend((1..=20).map(|k| 1.0 + 0.02 * f64::from(k)));
    let d = decisions_until(StallRule::default(), &losses, 120);
    assert_eq!(
        d,
        vec![(100, StallDecision::Teleport), (120, StallDecision::Revert)]
    );
}
