//! Size limits: a network or batch too large for memory is an error naming the field,
//! found before anything is allocated.

use symstab_core::Error;
use symstab_core::data::teacher_student;
use symstab_core::mlp::{Activation, MAX_PARAMS, Mlp};

#[test]
fn too_many_parameters_is_an_error_naming_widths() {
    let e = Mlp::uniform(&[100_000, 100_000, 1], Activation::Relu).unwrap_err();
    match e {
        Error::InvalidValue { field, reason, .. } => {
            assert_eq!(field, "widths");
            assert!(reason.contains("10000200001 parameters"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Overflow of usize is caught by checked arithmetic.
    let e = Mlp::uniform(&[usize::MAX / 2, 3, 1], Activation::Relu).unwrap_err();
    assert!(e.to_string().contains("overflows"), "{e}");
    // The cap itself is allowed (P = d0·1 + 1 just at the cap is accepted, one more is not).
    assert!(Mlp::uniform(&[MAX_PARAMS - 1, 1], Activation::Relu).is_ok());
    assert!(Mlp::uniform(&[MAX_PARAMS, 1], Activation::Relu).is_err());
}

#[test]
fn too_many_samples_is_an_error_naming_samples() {
    let e = teacher_student(&[5, 3, 1], Activation::Relu, 100_000_000_000, 0).unwrap_err();
    match e {
        Error::InvalidValue { field, value, .. } => {
            assert_eq!(field, "samples");
            assert_eq!(value, "100000000000");
        }
        other => panic!("unexpected {other:?}"),
    }
    let net = Mlp::uniform(&[5, 3, 1], Activation::Relu).unwrap();
    assert!(net.check_batch(1000).is_ok());
    assert!(net.check_batch(usize::MAX).is_err());
}
