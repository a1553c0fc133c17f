//! Fast elementwise loops. A polynomial `exp` that vectorizes (libm's does not), and `map`
//! helpers that run a closure over slices in a copy compiled for AVX-512 or AVX2 when the CPU
//! has it (chosen at run time, so the shipped binary needs no native build flags). Only the
//! math of single elements lives here; shapes are the ops' business.

/// e^x in f32 with a relative error below 2e-7 over [-87, 88], branch-free so that loops over
/// it vectorize. Inputs are clamped to that range (e^-87 ≈ 1.6e-38, e^88 ≈ 1.7e38), so
/// `exp_fast(-inf)` is tiny but not 0, and `exp_fast(inf)` is large but finite.
///
/// Method: x = n·ln2 + r with n an integer and |r| ≤ ln2/2, e^r by its Taylor series up to r⁶
/// (truncation error < 1.3e-7), 2ⁿ written straight into the exponent bits.
#[inline(always)]
pub fn exp_fast(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75; // ln 2 split in two so n·ln2 stays exact
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer in the low bits
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // The integer n sits in the low mantissa bits of `shifted` (its exponent is fixed).
    let n_int = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    p * f32::from_bits((n_int.wrapping_add(127) as u32) << 23)
}

/// ln x for positive normal x, branch-free (relative error ~1e-7). x = m·2ᵉ with m in
/// [√½, √2); ln m = 2·atanh(s), s = (m−1)/(m+1), by its odd series up to s⁹.
#[inline(always)]
pub fn ln_fast(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000); // in [1, 2)
    let big = m > std::f32::consts::SQRT_2;
    m = if big { m * 0.5 } else { m };
    e += big as i32;
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let atanh =
        s * (1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))));
    e as f32 * std::f32::consts::LN_2 + 2.0 * atanh
}

/// ln(1 + e^−|x|), the smooth part of softplus and of binary cross-entropy with logits.
#[inline(always)]
pub fn log1p_exp_neg_abs(x: f32) -> f32 {
    ln_fast(1.0 + exp_fast(-x.abs()))
}

/// 1 / (1 + e^-x).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_fast(-x))
}

/// tanh via the sigmoid: tanh x = 2σ(2x) − 1 (absolute error ~1e-7).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp_fast(-2.0 * x)) - 1.0
}

/// erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), with the fast exp.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp_fast(-a * a);
    y.copysign(x)
}

macro_rules! dispatch {
    ($name:ident, $generic:ident, $f:ident, ($($arg:ident : $ty:ty),*), [$($bound:tt)+]) => {
        #[allow(clippy::missing_safety_doc)]
        #[allow(unsafe_code)] // the run-time CPU-feature dispatch, explained at each call
        mod $name {
            /// One thread's share, in the widest vector code available.
            #[inline]
            pub fn run<F: $($bound)+>($($arg: $ty,)* out: &mut [f32], f: &F) {
                #[cfg(target_arch = "x86_64")]
                {
                    if super::has_avx512() {
                        // SAFETY: the CPU supports every feature the copy was compiled for.
                        return unsafe { v4($($arg,)* out, f) };
                    }
                    if super::has_avx2() {
                        // SAFETY: as above.
                        return unsafe { v3($($arg,)* out, f) };
                    }
                }
                super::$generic($($arg,)* out, f)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
            pub unsafe fn v4<F: $($bound)+>($($arg: $ty,)* out: &mut [f32], f: F) {
                super::$generic($($arg,)* out, f)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn v3<F: $($bound)+>($($arg: $ty,)* out: &mut [f32], f: F) {
                super::$generic($($arg,)* out, f)
            }
        }
        /// Runs the loop in the widest vector code the CPU supports, on two threads for long
        /// slices (elementwise, so the split does not change any result).
        #[inline]
        pub fn $f<F: $($bound)+ + Sync>($($arg: $ty,)* out: &mut [f32], f: F) {
            if out.len() >= PARALLEL_MIN_ELEMS && crate::tensor::num_threads() > 1 {
                let mid = out.len() / 2;
                let (o0, o1) = out.split_at_mut(mid);
                $(let $arg = $arg.split_at(mid);)*
                let f = &f;
                rayon::join(|| $name::run($($arg.0,)* o0, f), || $name::run($($arg.1,)* o1, f));
                return;
            }
            $name::run($($arg,)* out, &f)
        }
    };
}

macro_rules! dispatch_vec {
    ($f:ident, $fallback:ident, ($($arg:ident),+), $fv:ident, [$($bound:tt)+], $body:expr) => {
        /// Like the in-place map, but returns a fresh vector filled straight from the loop (no
        /// zero-fill first); long inputs go to the two-thread in-place version.
        #[allow(unsafe_code)] // feature dispatch, and the uninitialised fill (see SAFETY)
        pub fn $f<F: $($bound)+ + Sync>($($arg: &[f32],)+ $fv: F) -> Vec<f32> {
            let len = [$($arg.len()),+][0];
            if len >= PARALLEL_MIN_ELEMS && crate::tensor::num_threads() > 1 {
                let mut out = vec![0.0; len];
                $fallback($($arg,)+ &mut out, $fv);
                return out;
            }
            #[inline(always)]
            fn body<F: $($bound)+>($($arg: &[f32],)+ $fv: &F) -> Vec<f32> {
                $body
            }
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                unsafe fn v4<F: $($bound)+>($($arg: &[f32],)+ f: &F) -> Vec<f32> {
                    body($($arg,)+ f)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3<F: $($bound)+>($($arg: &[f32],)+ f: &F) -> Vec<f32> {
                    body($($arg,)+ f)
                }
                if has_avx512() {
                    // SAFETY: the CPU supports every feature v4 is compiled for.
                    return unsafe { v4($($arg,)+ &$fv) };
                }
                if has_avx2() {
                    // SAFETY: as above.
                    return unsafe { v3($($arg,)+ &$fv) };
                }
            }
            body($($arg,)+ &$fv)
        }
    };
}

dispatch_vec!(map1_vec, map1, (a), f, [Fn(f32) -> f32], {
    let mut out = Vec::with_capacity(a.len());
    for (o, &x) in out.spare_capacity_mut().iter_mut().zip(a) {
        o.write(f(x));
    }
    // SAFETY: the loop above initialized all a.len() elements.
    unsafe { out.set_len(a.len()) };
    out
});
dispatch_vec!(map2_vec, map2, (a, b), f, [Fn(f32, f32) -> f32], {
    assert_eq!(a.len(), b.len());
    let mut out = Vec::with_capacity(a.len());
    for ((o, &x), &y) in out.spare_capacity_mut().iter_mut().zip(a).zip(b) {
        o.write(f(x, y));
    }
    // SAFETY: the loop above initialized all a.len() elements (b has the same length).
    unsafe { out.set_len(a.len()) };
    out
});
dispatch_vec!(map3_vec, map3, (a, b, c), f, [Fn(f32, f32, f32) -> f32], {
    assert!(a.len() == b.len() && a.len() == c.len());
    let mut out = Vec::with_capacity(a.len());
    for (((o, &x), &y), &z) in out.spare_capacity_mut().iter_mut().zip(a).zip(b).zip(c) {
        o.write(f(x, y, z));
    }
    // SAFETY: the loop above initialized all a.len() elements (b and c have the same length).
    unsafe { out.set_len(a.len()) };
    out
});

/// Elementwise loops at least this long are split across two threads (measured: it pays from
/// about a million elements on this 2-core machine; below, the hand-off costs more).
pub const PARALLEL_MIN_ELEMS: usize = 1 << 20;

#[inline(always)]
fn map1_generic<F: Fn(f32) -> f32>(a: &[f32], out: &mut [f32], f: F) {
    assert_eq!(a.len(), out.len());
    for (o, &x) in out.iter_mut().zip(a) {
        *o = f(x);
    }
}

#[inline(always)]
fn map2_generic<F: Fn(f32, f32) -> f32>(a: &[f32], b: &[f32], out: &mut [f32], f: F) {
    assert!(a.len() == out.len() && b.len() == out.len());
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
}

#[inline(always)]
fn map3_generic<F: Fn(f32, f32, f32) -> f32>(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    out: &mut [f32],
    f: F,
) {
    assert!(a.len() == out.len() && b.len() == out.len() && c.len() == out.len());
    for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
        *o = f(x, y, z);
    }
}

dispatch!(m1, map1_generic, map1, (a: &[f32]), [Fn(f32) -> f32]);
dispatch!(m2, map2_generic, map2, (a: &[f32], b: &[f32]), [Fn(f32, f32) -> f32]);
dispatch!(m3, map3_generic, map3, (a: &[f32], b: &[f32], c: &[f32]), [Fn(f32, f32, f32) -> f32]);

/// Defines a kernel function whose body is compiled three times (AVX-512, AVX2+FMA, baseline)
/// and picked at run time. The body is an `#[inline(always)]` function, so every loop in it is
/// vectorized for the chosen target (a closure passed to a generic wrapper may not be inlined).
#[macro_export]
macro_rules! simd_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        // Kernels take their slices and sizes as plain arguments, however many.
        #[allow(clippy::too_many_arguments)]
        #[allow(unsafe_code)] // the run-time CPU-feature dispatch, explained at each call
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
                if $crate::tensor::kernels::has_avx512() {
                    // SAFETY: the CPU supports every feature v4 is compiled for.
                    return unsafe { v4($($arg),*) };
                }
                if $crate::tensor::kernels::has_avx2() {
                    // SAFETY: as above.
                    return unsafe { v3($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// Σ a with 16 partial sums (vectorizes; the order depends only on the length).
#[inline(always)]
pub fn sum16(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = a.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (s, &x) in acc.iter_mut().zip(c) {
            *s += x;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// Σ a·(b − m) with 16 partial sums (with a = b: the squared deviation from m).
#[inline(always)]
pub fn dot_centered16(a: &[f32], b: &[f32], m: f32) -> f32 {
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * (y - m))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * (y[i] - m);
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Σ (a − m)² with 16 partial sums.
#[inline(always)]
pub fn sq_dev16(a: &[f32], m: f32) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = a.chunks_exact(16);
    let rest: f32 = chunks.remainder().iter().map(|x| (x - m) * (x - m)).sum();
    for c in chunks {
        for i in 0..16 {
            let d = c[i] - m;
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Σ a·b with 16 partial sums.
#[inline(always)]
pub fn dot16(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// max a with 16 partial maxima (−∞ for an empty slice).
#[inline(always)]
pub fn max16(a: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 16];
    let chunks = a.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for (m, &x) in acc.iter_mut().zip(c) {
            *m = if x > *m { x } else { *m };
        }
    }
    rest.iter()
        .chain(acc.iter())
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// The widest elementwise code allowed: `MLLAB_SIMD=avx2` (or `scalar`) caps it, so that an
/// AVX-512 machine can measure what an AVX2 one runs. Read once.
#[cfg(target_arch = "x86_64")]
fn simd_cap() -> u8 {
    static CAP: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| match std::env::var("MLLAB_SIMD").as_deref() {
        Ok("scalar") => 0,
        Ok("avx2") => 1,
        _ => 2,
    })
}

#[cfg(target_arch = "x86_64")]
#[doc(hidden)]
pub fn has_avx512() -> bool {
    simd_cap() >= 2 && cpu_has_avx512()
}

#[cfg(target_arch = "x86_64")]
#[doc(hidden)]
pub fn has_avx2() -> bool {
    simd_cap() >= 1 && cpu_has_avx2()
}

/// The CPU has AVX-512 (F, VL, BW, DQ) and FMA.
#[cfg(target_arch = "x86_64")]
pub fn cpu_has_avx512() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("fma")
}

/// The CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
pub fn cpu_has_avx2() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

crate::simd_fn! {
    /// `acc[i] += x[i]`.
    pub fn add_assign(acc: &mut [f32], x: &[f32]) {
        for (a, &v) in acc.iter_mut().zip(x) {
            *a += v;
        }
    }
}

crate::simd_fn! {
    /// Sum of a slice (16 partial sums; deterministic for a given length).
    pub fn sum(a: &[f32]) -> f32 {
        sum16(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_fast_matches_libm_to_a_few_ulps() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let rel = ((exp_fast(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
    }

    #[test]
    fn ln_fast_matches_libm() {
        let mut x = 1e-30f32;
        while x < 1e30 {
            let err = (ln_fast(x) - x.ln()).abs() / x.ln().abs().max(1.0);
            assert!(err < 3e-7, "ln({x}): {} vs {}", ln_fast(x), x.ln());
            x *= 1.37;
        }
        for x in [0.5f32, 0.99, 1.0, 1.01, 1.414, 1.5, 2.0] {
            assert!((ln_fast(x) - x.ln()).abs() < 2e-7, "ln({x})");
        }
    }

    #[test]
    fn exp_fast_saturates_instead_of_overflowing() {
        assert!(exp_fast(f32::NEG_INFINITY) < 1e-37);
        assert!(exp_fast(1000.0).is_finite());
    }

    #[test]
    fn erf_and_tanh_are_close_to_reference_values() {
        for &(x, e) in &[
            (0.5f32, 0.520_499_9f32),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
        ] {
            assert!((erf(x) - e).abs() < 3e-7, "erf({x})");
        }
        for x in [-5.0f32, -1.0, -0.1, 0.0, 0.3, 2.0] {
            assert!((tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
        }
    }

    #[test]
    fn map_kernels_agree_with_a_plain_loop() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.1 - 1.5).collect();
        let mut out = vec![0.0; 37];
        map1(&a, &mut out, |x| x * 2.0 + 1.0);
        assert!(out.iter().zip(&a).all(|(o, x)| *o == x * 2.0 + 1.0));
        map2(&a, &a, &mut out, |x, y| x * y);
        assert!(out.iter().zip(&a).all(|(o, x)| *o == x * x));
    }
}
