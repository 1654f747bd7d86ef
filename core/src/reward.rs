//! Task rewards, epochs and uptime: integer-only, total, deterministic.
//!
//! # The LuxV1 reward formula
//!
//! This reproduces the Go package's published reward formula (luxfi/ai `pkg/rewards`) exactly, but in
//! integer arithmetic (the Go code used float factors: defect #3 of the facts file). Starting from
//! `reward = base`, four percentage steps are applied, in exactly this order, each one
//! `reward = floor(reward * pct / 100)` and each compounding on the running total:
//!
//! | step | condition | pct |
//! |---|---|---|
//! | 1. compute factor | compute time `< 100` ms / `< 1_000` / `< 10_000` / otherwise | 100 / 150 / 200 / 300 |
//! | 2. GPU bonus | model contains `GB200` or `B200` / `H200` or `H100` / `A100` / `4090` / other | 120 / 115 / 110 / 105 / 100 |
//! | 3. uptime bonus | `uptime_ppm >= 999_000` (99.9 %); `None` (no stats yet) gets no bonus | 110 / 100 |
//! | 4. speed bonus | compute time `< 100` ms | 105 / 100 |
//!
//! Worked example (base `1e15`, 50 ms, `"NVIDIA H100"`, uptime 999 500 ppm):
//! `1e15 -> 1e15 -> 1.15e15 -> 1.265e15 -> 1.32825e15`.
//!
//! ## GPU model matching
//!
//! The model string is matched with a **case-sensitive substring** test, rows tried in the
//! precedence order of the table above (first match wins): `"GB200"`/`"B200"`, then
//! `"H200"`/`"H100"`, then `"A100"`, then `"4090"` (which covers `"RTX 4090"`). Consequences, kept
//! on purpose because this is the published Go behaviour and its test vectors must reproduce:
//! - `"nvidia h100"` (lower case) gets no bonus;
//! - a string naming two models gets the higher-precedence bonus (`"A100 + H100"` -> 115);
//! - `"RTX A1000"` contains `"A100"` and so gets 110 (a known quirk of the Go matching; the reward
//!   model string is in any case self-declared, so this is not a trust decision).
//!
//! ## Overflow
//!
//! Every step is an exact floor mul-div that never overflows an intermediate: with
//! `r = 100 q + m`, `floor(r * pct / 100) = q * pct + floor(m * pct / 100)`. When the true result
//! does not fit in a `u128`, the step saturates at `u128::MAX` (and so does the final reward, since
//! every later step has `pct >= 100`). Nothing here panics.

/// Percentage denominator of every reward step.
pub const PCT_DENOMINATOR: u128 = 100;

/// Compute time below which a task is "fast": compute factor 100 and speed bonus 105.
pub const FAST_COMPUTE_MS: u64 = 100;
/// Compute time below which the compute factor is 150.
pub const MEDIUM_COMPUTE_MS: u64 = 1_000;
/// Compute time below which the compute factor is 200 (otherwise 300).
pub const SLOW_COMPUTE_MS: u64 = 10_000;

/// Uptime (parts per million) at or above which the uptime bonus applies: 99.9 %.
pub const UPTIME_BONUS_THRESHOLD_PPM: u32 = 999_000;
/// Uptime bonus percentage.
pub const UPTIME_BONUS_PCT: u128 = 110;
/// Speed bonus percentage (compute time `< FAST_COMPUTE_MS`).
pub const SPEED_BONUS_PCT: u128 = 105;

/// One million: the `uptime_ppm` scale, and its cap.
pub const PPM: u32 = 1_000_000;

/// GPU bonus rows: (substrings, pct), tried in this order, first match wins; see the module docs.
pub const GPU_BONUS_TABLE: &[(&[&str], u128)] = &[
    (&["GB200", "B200"], 120),
    (&["H200", "H100"], 115),
    (&["A100"], 110),
    (&["RTX 4090", "4090"], 105),
];

/// `floor(value * pct / 100)`, exact, saturating at `u128::MAX` when the result does not fit.
///
/// Computed as `(value / 100) * pct + (value % 100) * pct / 100`, which never overflows an
/// intermediate unless the result itself overflows.
pub fn mul_pct(value: u128, pct: u128) -> u128 {
    let q = value / PCT_DENOMINATOR;
    let m = value % PCT_DENOMINATOR;
    // m < 100, so m * pct overflows only for pct near u128::MAX (never for the reward
    // percentages). Then split pct the same way: floor(m * pct / 100) =
    // m * (pct / 100) + floor(m * (pct % 100) / 100), the last product being < 10_000; if the
    // first one overflows, so does the true result, and saturating is right.
    let low = match m.checked_mul(pct) {
        Some(p) => p / PCT_DENOMINATOR,
        None => (pct / PCT_DENOMINATOR)
            .saturating_mul(m)
            .saturating_add((pct % PCT_DENOMINATOR) * m / PCT_DENOMINATOR),
    };
    q.checked_mul(pct)
        .and_then(|high| high.checked_add(low))
        .unwrap_or(u128::MAX)
}

/// Compute-factor percentage for a reported compute time: 100 / 150 / 200 / 300.
pub fn compute_factor_pct(compute_time_ms: u64) -> u128 {
    if compute_time_ms < FAST_COMPUTE_MS {
        100
    } else if compute_time_ms < MEDIUM_COMPUTE_MS {
        150
    } else if compute_time_ms < SLOW_COMPUTE_MS {
        200
    } else {
        300
    }
}

/// GPU bonus percentage for a model string (case-sensitive substring, [`GPU_BONUS_TABLE`] order).
pub fn gpu_bonus_pct(gpu_model: &str) -> u128 {
    GPU_BONUS_TABLE
        .iter()
        .find(|(needles, _)| needles.iter().any(|n| gpu_model.contains(n)))
        .map_or(100, |(_, pct)| *pct)
}

/// Uptime bonus percentage: 110 when `uptime_ppm >= 999_000`, 100 otherwise or when `None`.
pub fn uptime_bonus_pct(uptime_ppm: Option<u32>) -> u128 {
    match uptime_ppm {
        Some(ppm) if ppm >= UPTIME_BONUS_THRESHOLD_PPM => UPTIME_BONUS_PCT,
        _ => 100,
    }
}

/// Speed bonus percentage: 105 when `compute_time_ms < 100`, 100 otherwise.
pub fn speed_bonus_pct(compute_time_ms: u64) -> u128 {
    if compute_time_ms < FAST_COMPUTE_MS {
        SPEED_BONUS_PCT
    } else {
        100
    }
}

/// The Go package's published reward formula, exactly, in integer arithmetic (see module docs):
/// compute factor, then GPU bonus, then uptime bonus, then speed bonus, each a truncating
/// `reward * pct / 100` on the running total. Saturates at `u128::MAX`; never panics.
pub fn lux_v1_reward(
    base: u128,
    compute_time_ms: u64,
    gpu_model: &str,
    uptime_ppm: Option<u32>,
) -> u128 {
    let reward = mul_pct(base, compute_factor_pct(compute_time_ms));
    let reward = mul_pct(reward, gpu_bonus_pct(gpu_model));
    let reward = mul_pct(reward, uptime_bonus_pct(uptime_ppm));
    mul_pct(reward, speed_bonus_pct(compute_time_ms))
}

/// The reward of one task under the configured schedule: `flat = true` pays `base` unchanged,
/// otherwise [`lux_v1_reward`].
pub fn task_reward(
    flat: bool,
    base: u128,
    compute_time_ms: u64,
    gpu_model: &str,
    uptime_ppm: Option<u32>,
) -> u128 {
    if flat {
        base
    } else {
        lux_v1_reward(base, compute_time_ms, gpu_model, uptime_ppm)
    }
}

/// The epoch a (block) time falls in: `time_ms / epoch_duration_ms`, and 0 when the duration is 0.
pub fn epoch_of(time_ms: u64, epoch_duration_ms: u64) -> u64 {
    time_ms.checked_div(epoch_duration_ms).unwrap_or(0)
}

/// Uptime in parts per million, truncated: `floor(available * 1e6 / total)`, capped at 1_000_000
/// (when `available > total`). `None` when `total` is 0: the provider has no stats yet.
pub fn uptime_ppm(blocks_available: u64, blocks_total: u64) -> Option<u32> {
    if blocks_total == 0 {
        return None;
    }
    let available = u128::from(blocks_available.min(blocks_total));
    // available <= total, so the quotient is <= 1_000_000 and the product fits in u128.
    let ppm = available * u128::from(PPM) / u128::from(blocks_total);
    Some(u32::try_from(ppm).map_or(PPM, |p| p.min(PPM)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const E15: u128 = 1_000_000_000_000_000;

    /// The naive formula, for values small enough that `reward * pct` fits in a u128.
    fn naive(base: u128, ms: u64, gpu: &str, up: Option<u32>) -> u128 {
        let mut r = base;
        for pct in [
            compute_factor_pct(ms),
            gpu_bonus_pct(gpu),
            uptime_bonus_pct(up),
            speed_bonus_pct(ms),
        ] {
            r = r * pct / 100;
        }
        r
    }

    #[test]
    fn published_vector_by_hand() {
        // compute: 50 ms < 100 -> x100/100
        let compute = E15 * 100 / 100;
        assert_eq!(compute, 1_000_000_000_000_000);
        // gpu: "NVIDIA H100" -> 115
        let gpu = compute * 115 / 100;
        assert_eq!(gpu, 1_150_000_000_000_000);
        // uptime: 999_500 >= 999_000 -> 110
        let uptime = gpu * 110 / 100;
        assert_eq!(uptime, 1_265_000_000_000_000);
        // speed: 50 ms < 100 -> 105
        let speed = uptime * 105 / 100;
        assert_eq!(speed, 1_328_250_000_000_000);
        assert_eq!(lux_v1_reward(E15, 50, "NVIDIA H100", Some(999_500)), speed);
    }

    #[test]
    fn vector_table() {
        // (base, ms, gpu, uptime, expected) — expected written out by hand.
        let rows: &[(u128, u64, &str, Option<u32>, u128)] = &[
            // boundary 99/100 ms: 99 gets x1.0 and the speed bonus, 100 gets x1.5 and none.
            (E15, 99, "other", None, 1_050_000_000_000_000),
            (E15, 100, "other", None, 1_500_000_000_000_000),
            // boundary 999/1000
            (E15, 999, "other", None, 1_500_000_000_000_000),
            (E15, 1_000, "other", None, 2_000_000_000_000_000),
            // boundary 9999/10000
            (E15, 9_999, "other", None, 2_000_000_000_000_000),
            (E15, 10_000, "other", None, 3_000_000_000_000_000),
            (E15, u64::MAX, "other", None, 3_000_000_000_000_000),
            // uptime boundary 998_999 / 999_000 / None / full
            (E15, 5_000, "other", Some(998_999), 2_000_000_000_000_000),
            (E15, 5_000, "other", Some(999_000), 2_200_000_000_000_000),
            (E15, 5_000, "other", Some(PPM), 2_200_000_000_000_000),
            (E15, 5_000, "other", None, 2_000_000_000_000_000),
            // each GPU row (500 ms: x1.5)
            (E15, 500, "NVIDIA GB200", None, 1_800_000_000_000_000),
            (E15, 500, "NVIDIA B200", None, 1_800_000_000_000_000),
            (E15, 500, "NVIDIA H200", None, 1_725_000_000_000_000),
            (E15, 500, "NVIDIA H100 80GB", None, 1_725_000_000_000_000),
            (E15, 500, "NVIDIA A100", None, 1_650_000_000_000_000),
            (E15, 500, "GeForce RTX 4090", None, 1_575_000_000_000_000),
            (E15, 500, "4090", None, 1_575_000_000_000_000),
            (E15, 500, "RTX 5090", None, 1_500_000_000_000_000),
            (E15, 500, "", None, 1_500_000_000_000_000),
            // everything at once: 1e15 * 1.0 * 1.2 * 1.1 * 1.05
            (E15, 0, "GB200", Some(999_999), 1_386_000_000_000_000),
            // everything at the slow end: 1e15 * 3 * 1.2 * 1.1
            (E15, 60_000, "B200", Some(999_000), 3_960_000_000_000_000),
            (0, 50, "GB200", Some(PPM), 0),
        ];
        for &(base, ms, gpu, up, want) in rows {
            assert_eq!(
                lux_v1_reward(base, ms, gpu, up),
                want,
                "{base} {ms} {gpu:?} {up:?}"
            );
        }
    }

    #[test]
    fn truncation_compounds_step_by_step() {
        let base = E15 + 7;
        // 1_000_000_000_000_007 * 150 / 100 = 1_500_000_000_000_010.5 -> ..._010
        // * 115 / 100 = 1_725_000_000_000_011.5 -> ..._011
        // * 110 / 100 = 1_897_500_000_000_012.1 -> ..._012
        assert_eq!(
            lux_v1_reward(base, 500, "H100", Some(999_000)),
            1_897_500_000_000_012
        );
        // 50 ms: x1.0 -> ..._007; * 105/100 (4090) = 1_050_000_000_000_007.35 -> ..._007
        // uptime None; * 105/100 = 1_102_500_000_000_007.35 -> ..._007
        assert_eq!(
            lux_v1_reward(base, 50, "RTX 4090", None),
            1_102_500_000_000_007
        );
        // small values truncate to zero-ish: 1 * 1.5 = 1, * 1.2 = 1, * 1.1 = 1
        assert_eq!(lux_v1_reward(1, 500, "B200", Some(PPM)), 1);
        // 3 * 3 = 9, * 1.15 = 10.35 -> 10, * 1.1 = 11
        assert_eq!(lux_v1_reward(3, 20_000, "H200", Some(PPM)), 11);
        // step-wise truncation differs from one fused factor: 13 -> 39 -> 44 -> 48, whereas
        // floor(13 * 3 * 1.15 * 1.1) = floor(49.335) = 49.
        assert_eq!(lux_v1_reward(13, 20_000, "H200", Some(PPM)), 48);
    }

    #[test]
    fn gpu_matching_is_case_sensitive_substring_in_precedence_order() {
        assert_eq!(gpu_bonus_pct("nvidia h100"), 100);
        assert_eq!(gpu_bonus_pct("A100 + H100"), 115);
        assert_eq!(gpu_bonus_pct("H100 and GB200"), 120);
        assert_eq!(gpu_bonus_pct("RTX A1000"), 110); // documented Go quirk
        assert_eq!(gpu_bonus_pct("RTX 40900"), 105);
        assert_eq!(gpu_bonus_pct("RTX 3090"), 100);
    }

    #[test]
    fn overflow_saturates_never_panics() {
        assert_eq!(mul_pct(u128::MAX, 100), u128::MAX);
        assert_eq!(mul_pct(u128::MAX, 150), u128::MAX);
        // u128::MAX % 100 == 55
        let max_99 = u128::MAX / 100 * 99 + 55 * 99 / 100;
        assert_eq!(mul_pct(u128::MAX, 99), max_99);
        assert_eq!(mul_pct(99, u128::MAX), max_99);
        assert_eq!(mul_pct(u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_pct(100, u128::MAX), u128::MAX);
        assert_eq!(mul_pct(1, u128::MAX), u128::MAX / 100);
        assert_eq!(mul_pct(0, u128::MAX), 0);
        assert_eq!(
            lux_v1_reward(u128::MAX, 50, "other", None),
            mul_pct(u128::MAX, 105)
        );
        assert_eq!(lux_v1_reward(u128::MAX, 50, "GB200", Some(PPM)), u128::MAX);
        assert_eq!(
            lux_v1_reward(u128::MAX, u64::MAX, "H100", Some(PPM)),
            u128::MAX
        );
        // largest base whose x3 still fits: exact, no saturation
        let b = u128::MAX / 3;
        assert_eq!(mul_pct(b, 300), b * 3);
    }

    #[test]
    fn flat_schedule_pays_base() {
        assert_eq!(
            task_reward(true, 1_000_000_000, 60_000, "GB200", Some(PPM)),
            1_000_000_000
        );
        assert_eq!(
            task_reward(false, E15, 50, "NVIDIA H100", Some(999_500)),
            1_328_250_000_000_000
        );
    }

    #[test]
    fn epochs() {
        assert_eq!(epoch_of(0, 3_600_000), 0);
        assert_eq!(epoch_of(3_599_999, 3_600_000), 0);
        assert_eq!(epoch_of(3_600_000, 3_600_000), 1);
        assert_eq!(epoch_of(u64::MAX, 1), u64::MAX);
        assert_eq!(epoch_of(12345, 0), 0);
        assert_eq!(epoch_of(u64::MAX, 0), 0);
    }

    #[test]
    fn uptime() {
        assert_eq!(uptime_ppm(0, 0), None);
        assert_eq!(uptime_ppm(5, 0), None);
        assert_eq!(uptime_ppm(0, 10), Some(0));
        assert_eq!(uptime_ppm(999, 1_000), Some(999_000));
        assert_eq!(uptime_ppm(9_989, 10_000), Some(998_900));
        assert_eq!(uptime_ppm(2, 3), Some(666_666));
        assert_eq!(uptime_ppm(10, 10), Some(PPM));
        assert_eq!(uptime_ppm(11, 10), Some(PPM));
        assert_eq!(uptime_ppm(u64::MAX, u64::MAX), Some(PPM));
        assert_eq!(uptime_ppm(u64::MAX - 1, u64::MAX), Some(999_999));
        assert_eq!(uptime_ppm(u64::MAX, 1), Some(PPM));
    }

    /// Full 256-bit product as (high, low) u128 halves; tuples compare lexicographically.
    fn wide_mul(a: u128, b: u128) -> (u128, u128) {
        const LO: u128 = u64::MAX as u128;
        let (a1, a0) = (a >> 64, a & LO);
        let (b1, b0) = (b >> 64, b & LO);
        let p00 = a0 * b0;
        let p01 = a0 * b1;
        let p10 = a1 * b0;
        let p11 = a1 * b1;
        let mid = (p00 >> 64) + (p01 & LO) + (p10 & LO);
        let low = (p00 & LO) | (mid << 64);
        let high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        (high, low)
    }

    #[test]
    fn wide_mul_sanity() {
        assert_eq!(wide_mul(u128::MAX, 1), (0, u128::MAX));
        assert_eq!(wide_mul(u128::MAX, 2), (1, u128::MAX - 1));
        assert_eq!(wide_mul(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
        assert_eq!(wide_mul(1 << 64, 1 << 64), (1, 0));
        assert_eq!(wide_mul(12345, 678), (0, 12345 * 678));
    }

    proptest! {
        #[test]
        fn mul_pct_is_exact_floor(value in 0u128..=u128::from(u64::MAX) * 1_000, pct in 0u128..=u128::from(u32::MAX)) {
            prop_assert_eq!(mul_pct(value, pct), value * pct / 100);
        }

        #[test]
        fn mul_pct_is_exact_or_saturated(value: u128, pct in prop_oneof![0u128..=1_000, any::<u128>()]) {
            // Checked against a 256-bit product: got == floor(value * pct / 100) when that fits,
            // u128::MAX otherwise.
            let got = mul_pct(value, pct);
            let product = wide_mul(value, pct);
            let max_times_100 = wide_mul(u128::MAX, 100);
            if got == u128::MAX {
                // floor(product / 100) >= u128::MAX  <=>  product >= u128::MAX * 100
                prop_assert!(product >= max_times_100);
            } else {
                // got * 100 <= product < (got + 1) * 100
                prop_assert!(wide_mul(got, 100) <= product);
                prop_assert!(product < wide_mul(got + 1, 100));
            }
        }

        #[test]
        fn formula_matches_naive_u128(
            base in 0u128..(1u128 << 100),
            ms: u64,
            gpu in prop::sample::select(vec!["GB200", "B200", "H200", "H100", "A100", "RTX 4090", "x"]),
            up in prop::option::of(990_000u32..=1_000_000),
        ) {
            prop_assert_eq!(lux_v1_reward(base, ms, gpu, up), naive(base, ms, gpu, up));
        }

        #[test]
        fn reward_never_below_base_and_monotone(base: u128, delta: u128, ms: u64, gpu in ".{0,12}", up: Option<u32>) {
            let r = lux_v1_reward(base, ms, &gpu, up);
            prop_assert!(r >= base);
            let bigger = base.saturating_add(delta);
            prop_assert!(lux_v1_reward(bigger, ms, &gpu, up) >= r);
        }

        #[test]
        fn uptime_in_range(a: u64, t: u64) {
            match uptime_ppm(a, t) {
                None => prop_assert_eq!(t, 0),
                Some(p) => {
                    prop_assert!(p <= PPM);
                    prop_assert_eq!(u128::from(p), u128::from(a.min(t)) * 1_000_000 / u128::from(t));
                }
            }
        }

        #[test]
        fn epoch_is_division(t: u64, d in 1u64..) {
            prop_assert_eq!(epoch_of(t, d), t / d);
        }
    }
}
