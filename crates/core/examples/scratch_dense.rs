#![allow(missing_docs, clippy::print_stdout)]
use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::mlp::Activation;
fn main() {
    let ts = teacher_student(&[5, 10, 10, 10, 10, 1], Activation::Relu, 1000, 0).unwrap();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    one.install(|| { for _ in 0..20 { std::hint::black_box(ts.problem.hessian(&ts.student_params)); } });
}
