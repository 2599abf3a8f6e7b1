//! Reading a learning-rate × orbit-position grid: the loss-decrease boundary.

use symstab_core::Outcome;
use symstab_core::orbit::loss_decrease_boundary;

#[test]
fn loss_decrease_boundary_reads_the_grid_column_by_column() {
    let u = Outcome::Unfinished;
    let rates = [0.1, 0.2, 0.4];
    // lr-major, two positions: (lr 0: α0, α1), (lr 1: α0, α1), (lr 2: α0, α1).
    let runs = [
        (u, 0.5),
        (u, 2.0),
        (u, 0.7),
        (u, 0.1),
        (Outcome::Diverged, f64::INFINITY),
        (u, 0.1),
    ];
    // Position 0: 0.1 and 0.2 lower the loss, 0.4 diverges. Position 1: the smallest rate
    // already fails, so the later successes do not count.
    assert_eq!(
        loss_decrease_boundary(&rates, &runs, 1.0).unwrap(),
        vec![Some(0.2), None]
    );
    // A NaN loss is not a decrease; a converged run is.
    let runs = [(Outcome::Converged, 0.0), (u, f64::NAN)];
    assert_eq!(
        loss_decrease_boundary(&[0.1], &runs, 1.0).unwrap(),
        vec![Some(0.1), None]
    );
    assert!(loss_decrease_boundary(&rates, &runs[..1], 1.0).is_err());
    assert!(loss_decrease_boundary(&[], &runs, 1.0).is_err());
    assert!(loss_decrease_boundary(&[0.2, 0.1], &[(u, 0.0), (u, 0.0)], 1.0).is_err());
}
