//! Which vector kernels this build picks on this CPU, said in words for `mllab bench` and for
//! the machine line beside every speed figure.
//!
//! Matrix products: `gemm` chooses its kernels at run time among those compiled in (AVX-512
//! only with the default `avx512` feature); the A·Bᵀ products go through `matrixmultiply`,
//! likewise. Elementwise loops have AVX-512 and AVX2 copies chosen at run time, which
//! `MLLAB_SIMD=avx2` caps.

/// The kernels in use, and the machine.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Kernels {
    /// The CPU's model name, as the system gives it.
    pub cpu: String,
    pub cores: usize,
    /// gemm's kernels (X·W, Xᵀ·dY).
    pub matmul: &'static str,
    /// matrixmultiply's kernels (dY·Wᵀ).
    pub matmul_abt: &'static str,
    /// The elementwise loops' copy.
    pub elementwise: &'static str,
}

pub fn kernels() -> Kernels {
    let build_avx512 = cfg!(feature = "avx512");
    #[cfg(target_arch = "x86_64")]
    let (cpu512, cpu2) = (
        super::kernels::cpu_has_avx512(),
        super::kernels::cpu_has_avx2(),
    );
    #[cfg(not(target_arch = "x86_64"))]
    let (cpu512, cpu2) = (false, false);
    #[cfg(target_arch = "x86_64")]
    let (el512, el2) = (super::kernels::has_avx512(), super::kernels::has_avx2());
    #[cfg(not(target_arch = "x86_64"))]
    let (el512, el2) = (false, false);
    let pick = |wide: bool, narrow: bool| match (wide, narrow) {
        (true, _) => "AVX-512",
        (false, true) => "AVX2+FMA",
        _ => "generic (no AVX2)",
    };
    Kernels {
        cpu: cpu_name(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        matmul: pick(build_avx512 && cpu512, cpu2),
        matmul_abt: pick(build_avx512 && cpu512, cpu2),
        elementwise: pick(el512, el2),
    }
}

impl std::fmt::Display for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} cores); kernels: matmul (gemm) {}, A·Bᵀ (matrixmultiply) {}, elementwise {}",
            self.cpu, self.cores, self.matmul, self.matmul_abt, self.elementwise
        )?;
        if !cfg!(feature = "avx512") {
            write!(f, " [built without the avx512 feature]")?;
        }
        Ok(())
    }
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|n| n.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_the_cpu_and_a_kernel_for_each_kind_of_loop() {
        let k = kernels();
        let text = k.to_string();
        assert!(!k.cpu.is_empty() && k.cores >= 1);
        for part in ["matmul (gemm)", "A·Bᵀ (matrixmultiply)", "elementwise"] {
            assert!(text.contains(part), "{text}");
        }
    }
}
