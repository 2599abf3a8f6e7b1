#![allow(missing_docs, clippy::print_stdout)]
use std::time::Instant;
use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::mlp::Activation;
use symstab_core::orbit::*;
use symstab_core::spectrum::SymmetricEigen;
fn main() {
    let ts = teacher_student(&[5, 10, 10, 10, 10, 1], Activation::Relu, 1000, 0).unwrap();
    let (problem, p0) = (ts.problem, ts.student_params);
    for _ in 0..2 {
    let t = Instant::now();
    let h = problem.hessian(&p0);
    println!("hessian {:?}", t.elapsed());
    let t = Instant::now();
    let e = SymmetricEigen::new(h.clone()).unwrap();
    println!("SymmetricEigen {:?} {}", t.elapsed(), e.lambda_max());
    let t = Instant::now();
    let t = Instant::now();
    let e2 = h.clone().symmetric_eigen();
    println!("nalgebra {:?} {}", t.elapsed(), e2.eigenvalues.max());
    let t = Instant::now();
    let s = point_spectrum(&problem, &p0, &SpectrumOptions{route: Some(SpectrumRoute::Lanczos), ..Default::default()}).unwrap();
    println!("lanczos route {:?} {} products {}", t.elapsed(), s.lambda_max, s.products);
    let t = Instant::now();
    let s = point_spectrum(&problem, &p0, &SpectrumOptions{gauss_newton: false, ..Default::default()}).unwrap();
    println!("dense no ggn {:?} {}", t.elapsed(), s.lambda_max);
    }
}
