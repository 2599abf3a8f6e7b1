#![allow(missing_docs, clippy::print_stdout)]
use std::time::Instant;
use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::mlp::Activation;
fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
fn main() {
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    one.install(|| {
        for (w, n) in [
            (vec![5usize, 10, 10, 10, 10, 1], 1000usize),
            (vec![64, 128, 128, 10], 2000),
        ] {
            let ts = teacher_student(&w, Activation::Relu, n, 0).unwrap();
            let (pr, p) = (ts.problem, ts.student_params);
            let v: Vec<f64> = (0..p.len()).map(|i| (i as f64).sin()).collect();
            let mut g = vec![0.0; p.len()];
            let mut hv = g.clone();
            let tg = best(20, || {
                pr.loss_and_gradient(&p, &mut g);
            });
            let th = best(20, || pr.hessian_vector_product(&p, &v, &mut hv));
            let td = if p.len() < 1000 {
                best(3, || {
                    pr.hessian(&p);
                })
            } else {
                f64::NAN
            };
            println!(
                "{w:?}: grad {:.3} ms hvp {:.3} ms dense {:.2} ms",
                tg * 1e3,
                th * 1e3,
                td * 1e3
            );
        }
    });
}
