//! Parsers for command-line values: positive numbers, counts, lists, `lo:hi:n` ranges,
//! `I/N` shards, toy samples and widths. Each returns the reason as a `String` on failure
//! (clap reports it with the argument and the value, see [`crate::messages`]).

use crate::messages;

/// A finite number.
pub fn finite(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| messages::MUST_BE_FINITE.to_owned())?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(messages::MUST_BE_FINITE.to_owned())
    }
}

/// A finite number > 0 (learning rates, tolerances, clip norms, α).
pub fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(messages::MUST_BE_POSITIVE.to_owned()),
    }
}

/// A finite number >= 0 (weight decay).
pub fn non_negative(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(messages::MUST_BE_NON_NEGATIVE.to_owned()),
    }
}

/// Momentum β in [0, 1).
pub fn momentum(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(messages::MOMENTUM_RANGE.to_owned()),
    }
}

/// A whole number >= 1 (step budgets, thread counts, sample counts, K). A whole number
/// too large for the machine's integers is named as too large, not as malformed.
pub fn count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if v >= 1 => Ok(v),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => {
            Err(messages::too_large(usize::MAX as u128))
        }
        _ => Err(messages::MUST_BE_COUNT.to_owned()),
    }
}

/// A step budget: a whole number >= 1 that fits the sweep kernel's counter (u32).
pub fn steps(s: &str) -> Result<usize, String> {
    let too_large = || messages::too_large(u128::from(u32::MAX));
    let v = count(s).map_err(|reason| {
        if reason.starts_with("too large") {
            too_large()
        } else {
            reason
        }
    })?;
    if u32::try_from(v).is_ok() {
        Ok(v)
    } else {
        Err(too_large())
    }
}

/// A relative tolerance: finite, > 0 and < 1 (a tolerance of 1 or more relative to the
/// scale accepts any answer).
pub fn relative_tolerance(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(messages::RELATIVE_TOLERANCE_RANGE.to_owned()),
    }
}

/// A non-empty comma-separated list of finite numbers (a point or start).
pub fn point(s: &str) -> Result<Vec<f64>, String> {
    let values = s
        .split(',')
        .map(|part| {
            part.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| messages::LIST_FORMAT.to_owned())
        })
        .collect::<Result<Vec<f64>, String>>()?;
    if values.is_empty() {
        return Err(messages::EMPTY_LIST.to_owned());
    }
    Ok(values)
}

/// A non-empty comma-separated list of learning rates, each finite and > 0.
pub fn learning_rates(s: &str) -> Result<Vec<f64>, String> {
    if s.trim().is_empty() {
        return Err(messages::EMPTY_LIST.to_owned());
    }
    s.split(',')
        .enumerate()
        .map(|(k, part)| {
            positive(part).map_err(|reason| format!("entry {k} ({}) {reason}", part.trim()))
        })
        .collect()
}

/// A range `lo:hi:n` of n evenly spaced values with inclusive ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// First value.
    pub lo: f64,
    /// Last value.
    pub hi: f64,
    /// Number of values (>= 1).
    pub n: usize,
}

/// Parses `lo:hi:n` (finite lo <= hi, whole n >= 1).
pub fn range(s: &str) -> Result<Range, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || messages::RANGE_FORMAT.to_owned();
    let [lo, hi, n] = parts.as_slice() else {
        return Err(bad());
    };
    let lo = finite(lo).map_err(|_| bad())?;
    let hi = finite(hi).map_err(|_| bad())?;
    let n = count(n).map_err(|_| bad())?;
    if lo > hi {
        return Err(bad());
    }
    if n == 1 && lo < hi {
        return Err("a range of 1 value needs lo == hi".to_owned());
    }
    Ok(Range { lo, hi, n })
}

/// A log-spaced range `lo:hi:n` of positive values (orbit positions α).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRange {
    /// First value (> 0).
    pub lo: f64,
    /// Last value (>= lo).
    pub hi: f64,
    /// Number of values (>= 1).
    pub n: usize,
}

/// Parses `lo:hi:n` with finite 0 < lo <= hi and a whole n >= 1 (n = 1 needs lo == hi,
/// n > 1 needs lo < hi).
pub fn log_range(s: &str) -> Result<LogRange, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let [lo, hi, n] = parts.as_slice() else {
        return Err(messages::LOG_RANGE_FORMAT.to_owned());
    };
    let lo = positive(lo).map_err(|r| format!("lo {r}"))?;
    let hi = positive(hi).map_err(|r| format!("hi {r}"))?;
    let n = count(n).map_err(|r| format!("n {r}"))?;
    if hi < lo {
        return Err("hi must be >= lo".to_owned());
    }
    if n == 1 && lo < hi {
        return Err("a range of 1 value needs lo == hi".to_owned());
    }
    if n > 1 && lo >= hi {
        return Err(format!("a range of {n} values needs lo < hi"));
    }
    Ok(LogRange { lo, hi, n })
}

/// A shard `I/N` with 0 <= I < N.
pub fn shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || messages::SHARD_FORMAT.to_owned();
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Toy samples `x:y,x:y,...`.
pub fn toy_samples(s: &str) -> Result<Vec<(f64, f64)>, String> {
    let bad = || messages::TOY_SAMPLES_FORMAT.to_owned();
    s.split(',')
        .map(|pair| {
            let (x, y) = pair.split_once(':').ok_or_else(bad)?;
            Ok((finite(x).map_err(|_| bad())?, finite(y).map_err(|_| bad())?))
        })
        .collect()
}

/// Widths `d0,d1,...,dL`: at least two whole numbers >= 1.
pub fn widths(s: &str) -> Result<Vec<usize>, String> {
    let bad = || messages::WIDTHS_FORMAT.to_owned();
    let widths = s
        .split(',')
        .map(|w| count(w).map_err(|_| bad()))
        .collect::<Result<Vec<usize>, String>>()?;
    if widths.len() < 2 {
        return Err(bad());
    }
    Ok(widths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(positive("0.025"), Ok(0.025));
        assert!(positive("0").is_err());
        assert!(positive("-1").is_err());
        assert!(positive("NaN").is_err());
        assert!(positive("inf").is_err());
        assert_eq!(count("3"), Ok(3));
        assert!(count("0").is_err());
        assert!(count("-2").is_err());
        assert!(momentum("1").is_err());
        assert_eq!(momentum("0.9"), Ok(0.9));
        assert!(
            count("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            steps("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            steps("4294967296")
                .unwrap_err()
                .contains("at most 4294967295")
        );
        assert_eq!(steps("0"), Err(messages::MUST_BE_COUNT.to_owned()));
        assert_eq!(relative_tolerance("0.5"), Ok(0.5));
        for bad in ["0", "1", "2", "-0.1", "NaN", "inf"] {
            assert!(relative_tolerance(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_and_ranges() {
        assert_eq!(point("1,9"), Ok(vec![1.0, 9.0]));
        assert_eq!(point("-1, 2.5"), Ok(vec![-1.0, 2.5]));
        assert!(point("1,,9").is_err());
        assert!(point("1,nan").is_err());
        assert_eq!(
            range("-10:10:400"),
            Ok(Range {
                lo: -10.0,
                hi: 10.0,
                n: 400
            })
        );
        assert!(range("1:2").is_err());
        assert!(range("2:1:5").is_err());
        assert!(range("0:1:0").is_err());
        assert!(range("0:1:x").is_err());
        assert!(range("0:1:1").is_err());
        assert!(range("1:1:1").is_ok());
        assert!(learning_rates("0.01,0").is_err());
        assert!(learning_rates("").is_err());
        assert_eq!(
            log_range("0.01:100:41"),
            Ok(LogRange {
                lo: 0.01,
                hi: 100.0,
                n: 41
            })
        );
        assert!(log_range("2:2:1").is_ok());
        assert!(log_range("0:1:5").is_err());
        assert!(log_range("-1:1:5").is_err());
        assert!(log_range("2:1:5").is_err());
        assert!(log_range("1:2:0").is_err());
        assert!(log_range("1:2:1").is_err());
        assert!(log_range("1:1:3").is_err());
        assert!(log_range("1:2").is_err());
        assert_eq!(shard("1/4"), Ok((1, 4)));
        assert!(shard("4/4").is_err());
        assert!(shard("0/0").is_err());
        assert_eq!(toy_samples("1:2,2:3"), Ok(vec![(1.0, 2.0), (2.0, 3.0)]));
        assert!(toy_samples("1").is_err());
        assert_eq!(widths("5,10,1"), Ok(vec![5, 10, 1]));
        assert!(widths("5").is_err());
        assert!(widths("5,0,1").is_err());
    }
}
