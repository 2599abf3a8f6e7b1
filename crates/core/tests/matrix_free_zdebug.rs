mod matrix_free_common;
use matrix_free_common::dense_eigenvalues;
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use symstab_core::matrix_free::{LanczosOptions, lanczos};
#[test]
fn debug() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for case in 0..2000 {
        let n = rng.random_range(12..20);
        let a = DMatrix::from_fn(n, n, |_, _| 0.0);
        let mut a = a;
        for i in 0..n { for j in i..n { let v = if rng.random::<f64>() < 0.5 {0.0} else {f64::from(rng.random_range(-3..=3))}; a[(i,j)] = v; a[(j,i)] = v; } }
        let dense = dense_eigenvalues(&a);
        for cm in [false, true] {
        let opts = LanczosOptions { n_top: 2, n_bottom: 2, max_basis: Some(10), seed: case, check_multiplicity: cm, ..LanczosOptions::default() };
        let r = lanczos(&a, &opts).unwrap();
        if (r.bottom.values[0] - dense[0]).abs() > 1e-6 || (r.top.values[0] - dense[n-1]).abs() > 1e-6 {
            eprintln!("case {case} n {n} cm {cm} {:?} {:?} dense {:?} restarts {} probes {} conv {}", r.top.values, r.bottom.values, dense, r.n_restarts, r.n_probes, r.converged);
            for v in &r.bottom.vectors { for w in &r.bottom.vectors { let d: f64 = v.iter().zip(w).map(|(x,y)| x*y).sum(); eprint!("{d:.3e} "); } }
            eprintln!();
            panic!();
        }
        }
    }
}
