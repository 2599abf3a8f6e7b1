//! Data: teacher-student generation, shipped real data sets, IDX files, dataset validation.

// Exact comparisons are intended where a value is exact by construction.
#![allow(clippy::float_cmp)]

use std::io::Write;

use symstab_core::Model;
use symstab_core::data::{
    Dataset, RealDataset, Targets, load_real, read_idx, read_idx_classification, teacher_student,
};
use symstab_core::mlp::{Activation, Mlp, MlpProblem, ProblemFile};

#[test]
fn teacher_student_is_seeded_and_exact_at_the_teacher() {
    let a = teacher_student(&[5, 10, 10, 1], Activation::Relu, 200, 0).unwrap();
    let b = teacher_student(&[5, 10, 10, 1], Activation::Relu, 200, 0).unwrap();
    assert_eq!(a.problem.dataset(), b.problem.dataset());
    assert_eq!(a.student_params, b.student_params);
    let c = teacher_student(&[5, 10, 10, 1], Activation::Relu, 200, 1).unwrap();
    assert_ne!(a.problem.dataset(), c.problem.dataset());
    // The teacher fits its own targets exactly; the student does not.
    assert_eq!(a.problem.loss(&a.teacher_params), 0.0);
    assert!(a.problem.loss(&a.student_params) > 1e-3);
    // Inputs look standard normal.
    let x = a.problem.dataset().inputs();
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64;
    assert!(
        mean.abs() < 0.15 && (var - 1.0).abs() < 0.15,
        "mean {mean}, var {var}"
    );
    assert!(teacher_student(&[5, 1], Activation::Relu, 0, 0).is_err());
}

fn column_stats(x: &[f64], d: usize) -> Vec<(f64, f64)> {
    let n = x.len() / d;
    (0..d)
        .map(|c| {
            let m = (0..n).map(|r| x[r * d + c]).sum::<f64>() / n as f64;
            let v = (0..n).map(|r| (x[r * d + c] - m).powi(2)).sum::<f64>() / n as f64;
            (m, v.sqrt())
        })
        .collect()
}

#[test]
fn real_datasets_load_standardised() {
    let cases = [
        (RealDataset::WineQuality, 1599, 11, true),
        (RealDataset::WineQualityRegression, 1599, 11, false),
        (RealDataset::Iris, 150, 4, true),
        (RealDataset::Diabetes, 441, 10, false),
    ];
    for (which, n, d, classify) in cases {
        let data = load_real(which).unwrap();
        assert_eq!((data.n_samples(), data.input_dim()), (n, d), "{which:?}");
        for (m, s) in column_stats(data.inputs(), d) {
            assert!(
                m.abs() < 1e-12 && (s - 1.0).abs() < 1e-12,
                "{which:?}: {m} {s}"
            );
        }
        match data.targets() {
            Targets::Labels { n_classes, labels } => {
                assert!(classify);
                assert!(labels.iter().all(|&l| l < *n_classes));
                assert!(*n_classes >= 3);
            }
            Targets::Values { dim, values } => {
                assert!(!classify);
                assert_eq!(*dim, 1);
                let (m, s) = column_stats(values, 1)[0];
                assert!(m.abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
            }
        }
        // A network trains on it: loss and gradient finite.
        let out = data.targets().dim();
        let net = Mlp::uniform(&[d, 8, out], Activation::Tanh).unwrap();
        let params = net.init_he(0, 0.1).unwrap();
        let problem = MlpProblem::new(net, data).unwrap();
        assert!(problem.gradient(&params).iter().all(|g| g.is_finite()));
    }
    assert_eq!("iris".parse::<RealDataset>().unwrap(), RealDataset::Iris);
    assert!(
        "mnist"
            .parse::<RealDataset>()
            .unwrap_err()
            .to_string()
            .contains("mnist")
    );
}

fn idx_bytes(kind: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, kind, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(body);
    b
}

#[test]
fn idx_files_round_trip_and_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images.idx3-ubyte");
    let labels = dir.path().join("labels.idx1-ubyte");
    // Three 2×2 images and their labels.
    let pixels: Vec<u8> = vec![0, 255, 51, 102, 10, 20, 30, 40, 255, 255, 0, 0];
    std::fs::File::create(&images)
        .unwrap()
        .write_all(&idx_bytes(0x08, &[3, 2, 2], &pixels))
        .unwrap();
    std::fs::File::create(&labels)
        .unwrap()
        .write_all(&idx_bytes(0x08, &[3], &[2, 0, 1]))
        .unwrap();

    let arr = read_idx(&images).unwrap();
    assert_eq!(arr.dims, vec![3, 2, 2]);
    assert_eq!(arr.values[1], 255.0);
    let data = read_idx_classification(&images, &labels, Some(10), None).unwrap();
    assert_eq!((data.n_samples(), data.input_dim()), (3, 4));
    assert_eq!(data.inputs()[1], 1.0);
    assert!((data.inputs()[2] - 0.2).abs() < 1e-15);
    assert_eq!(
        data.targets(),
        &Targets::Labels {
            n_classes: 10,
            labels: vec![2, 0, 1]
        }
    );
    let two = read_idx_classification(&images, &labels, None, Some(2)).unwrap();
    assert_eq!(two.n_samples(), 2);

    // f64 payload.
    let doubles = dir.path().join("d.idx");
    let body: Vec<u8> = [1.5f64, -2.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    std::fs::write(&doubles, idx_bytes(0x0E, &[2], &body)).unwrap();
    assert_eq!(read_idx(&doubles).unwrap().values, vec![1.5, -2.0]);

    // Missing file.
    let err = read_idx(dir.path().join("nope")).unwrap_err().to_string();
    assert!(err.contains("nope") && err.contains("cannot read"), "{err}");
    // Truncated body, bad magic, unknown type.
    let bad = dir.path().join("bad.idx");
    std::fs::write(&bad, idx_bytes(0x08, &[3, 2, 2], &pixels[..5])).unwrap();
    let err = read_idx(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.idx") && err.contains("need"), "{err}");
    std::fs::write(&bad, [1, 0, 8, 1, 0, 0, 0, 1, 7]).unwrap();
    assert!(read_idx(&bad).unwrap_err().to_string().contains("magic"));
    std::fs::write(&bad, idx_bytes(0x07, &[1], &[0])).unwrap();
    assert!(read_idx(&bad).unwrap_err().to_string().contains("type"));
    // Label count mismatch.
    std::fs::write(&labels, idx_bytes(0x08, &[2], &[0, 1])).unwrap();
    assert!(read_idx_classification(&images, &labels, None, None).is_err());
}

#[test]
fn datasets_and_networks_reject_bad_shapes() {
    assert!(Mlp::uniform(&[], Activation::Relu).is_err());
    assert!(Mlp::uniform(&[3], Activation::Relu).is_err());
    let err = Mlp::uniform(&[3, 0, 1], Activation::Relu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("widths") && err.contains('0'), "{err}");
    assert!(Mlp::new(&[3, 4, 1], &[]).is_err());
    assert!(Dataset::regression(vec![1.0; 5], 2, vec![0.0; 2], 1).is_err());
    assert!(Dataset::regression(vec![1.0; 4], 2, vec![0.0; 3], 1).is_err());
    assert!(Dataset::regression(vec![1.0, f64::NAN], 2, vec![0.0], 1).is_err());
    let err = Dataset::classification(vec![1.0; 4], 2, vec![0, 3], 3)
        .unwrap_err()
        .to_string();
    assert!(err.contains("labels[1]") && err.contains('3'), "{err}");
    let net = Mlp::uniform(&[3, 4, 2], Activation::Relu).unwrap();
    let wrong_input = Dataset::regression(vec![1.0; 4], 2, vec![0.0; 4], 2).unwrap();
    assert!(MlpProblem::new(net.clone(), wrong_input).is_err());
    let wrong_output = Dataset::regression(vec![1.0; 6], 3, vec![0.0; 2], 1).unwrap();
    assert!(MlpProblem::new(net.clone(), wrong_output).is_err());
    let ok = Dataset::regression(vec![1.0; 6], 3, vec![0.0; 4], 2).unwrap();
    let problem = MlpProblem::new(net, ok).unwrap();
    assert!(problem.try_loss(&[0.0; 3]).is_err());
    assert!(problem.try_loss(&vec![0.0; problem.n_params()]).is_ok());
    assert_eq!(
        "leaky_relu(0.2)".parse::<Activation>().unwrap(),
        Activation::LeakyRelu { slope: 0.2 }
    );
    assert!(
        "sigmoid"
            .parse::<Activation>()
            .unwrap_err()
            .to_string()
            .contains("sigmoid")
    );
}

#[test]
fn problem_file_round_trips_and_defaults_to_relu() {
    let ts = teacher_student(&[3, 4, 2], Activation::Tanh, 7, 4).unwrap();
    let file = ProblemFile::from_problem(&ts.problem, &ts.student_params).unwrap();
    let text = file.to_json_string();
    let back = ProblemFile::from_json_str(&text).unwrap();
    assert_eq!(back, file);
    let (problem, params) = back.into_problem().unwrap();
    assert_eq!(problem.loss(&params), ts.problem.loss(&ts.student_params));

    // The exporter's format: no activation field, extra descriptive fields.
    let minimal = r#"{"widths":[1,2,1],"n":2,"x":[0.5,-1.0],"y":[1.0,2.0],
        "params":[1,1,0,0,1,1,0],"layout":"h = h @ W_k + b_k","loss":"mean over n*out"}"#;
    let f = ProblemFile::from_json_str(minimal).unwrap();
    assert_eq!(f.activation, Activation::Relu);
    let (problem, params) = f.into_problem().unwrap();
    // relu(0.5) + relu(0.5) = 1 → residual 0; relu(−1)·2 = 0 → residual −2; mean of squares = 2.
    assert_eq!(problem.loss(&params), 2.0);

    // Labels instead of targets give cross-entropy; bad files give clear errors.
    let labels = r#"{"widths":[1,2],"x":[0.5,-1.0],"labels":[0,1],"params":[0,0,0,0]}"#;
    let (problem, _) = ProblemFile::from_json_str(labels)
        .unwrap()
        .into_problem()
        .unwrap();
    assert_eq!(
        problem.loss_kind(),
        symstab_core::mlp::LossKind::CrossEntropy
    );
    let short = r#"{"widths":[1,2,1],"x":[0.5],"y":[1.0],"params":[1,1]}"#;
    let err = ProblemFile::from_json_str(short)
        .unwrap()
        .into_problem()
        .unwrap_err()
        .to_string();
    assert!(err.contains("params"), "{err}");
    assert!(ProblemFile::from_json_str("{").is_err());
    let dir = tempfile::tempdir().unwrap();
    let err = ProblemFile::read(dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.json"), "{err}");
    let path = dir.path().join("p.json");
    file.write(std::fs::File::create(&path).unwrap()).unwrap();
    assert_eq!(ProblemFile::read(&path).unwrap(), file);
}
