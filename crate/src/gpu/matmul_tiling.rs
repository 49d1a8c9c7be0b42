//! Tile sizes of the tiled matmul kernels (`matmul_forward_tiled`, `matmul_backward_dinp`,
//! `matmul_backward_dweight`), or their direct versions without workgroup memory (`matmul_*_direct`), chosen
//! once per adapter from a small table.
//!
//! Each of those kernels runs WG_X x WG_Y invocations per workgroup, every invocation owning a 4 x 4 register
//! block of the output, so a workgroup owns a (4*WG_Y) x (4*WG_X) tile; it walks the inner dimension in
//! slices of BK staged in workgroup memory (a BK x 4*WG_Y and a BK x 4*WG_X tile of f32s).
//! The three numbers are WGSL `override` constants, so one shader serves every row of the table.
//!
//! | tiling     | WG_X x WG_Y | BK | output tile | workgroup memory | used for                                   |
//! |------------|-------------|----|-------------|------------------|--------------------------------------------|
//! | `LARGE`    | 16 x 16     | 16 | 64 x 64     | 8 KiB            | discrete GPUs (NVIDIA, AMD), Apple, unknown  |
//! | `MEDIUM`   | 16 x 8      | 16 | 32 x 64     | 6 KiB            | Intel (integrated)                           |
//! | `SMALL`    | 8 x 8       | 16 | 32 x 32     | 4 KiB            | mobile GPUs (Qualcomm Adreno, ARM Mali)      |
//! | `DIRECT`   | 8 x 8       | -  | 32 x 32     | none             | software adapters (lavapipe, SwiftShader)    |
//!
//! Why: on real GPUs a bigger tile reuses each value loaded from memory more often (64 x 64 reads every input
//! value 64 times less than one output per invocation) and 256 invocations fill a streaming multiprocessor or
//! compute unit; integrated and mobile GPUs have fewer registers and smaller caches per core and run better
//! with 64 to 128 invocations. Software adapters (device type `Cpu`) run a workgroup as a loop over SIMD lanes
//! and pay for every barrier with a switch between the invocations, while their "global" memory is cached RAM:
//! staging tiles in workgroup memory only costs there. So they get `DIRECT`: the same 4 x 4 register blocks,
//! each invocation reading its rows straight from the storage buffers (vec4 loads along the reduction where
//! the sizes are multiples of 4), no workgroup memory, no barrier. Measured (docs/benchmarks.md, a loaded
//! 2-core machine, alternating runs): SwiftShader in Chromium runs the forward matmul at 1.1 to 1.6 GFLOP/s
//! against 0.3 to 0.4 for the tiled rows, and the whole training step at 164 and 153 against 67 and 67
//! tokens/s with `LARGE`; lavapipe the step at 537 and 567 against 341 and 331 tokens/s (`LARGE` with the
//! subgroup forward matmul). Of the tiled rows `LARGE` was the best there (fewer workgroups, fewer barriers).
//! The GPU rows are not measured yet: `scripts/gpu-bench.sh` times every tiling on the card it runs on, so the
//! table can be corrected from real numbers.
//!
//! In the browser, wgpu's WebGPU backend reports neither a vendor id nor a device type other than "fallback"
//! (`Cpu`, so `DIRECT`) or `Other`, so there the choice is `LARGE` unless the adapter's description names a vendor.

use serde::Serialize;

/// One row of the tiling table: the `override` constants of the tiled matmul kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MatmulTiling {
    /// The row's name in the table (shown by the benchmarks and the adapter summary).
    pub name: &'static str,
    /// Invocations along the output's columns.
    pub wg_x: u32,
    /// Invocations along the output's rows.
    pub wg_y: u32,
    /// Depth of the inner-dimension slice staged in workgroup memory (a multiple of 4: the forward kernel
    /// loads it as vec4s); 0 for the direct kernels, which stage nothing.
    pub bk: u32,
    /// True for the direct kernels (`matmul_*_direct.wgsl`): each invocation reads its 4 x 4 block's inputs
    /// straight from the storage buffers, no workgroup memory, no barriers (for software adapters).
    pub direct: bool,
}

/// Outputs per invocation along each axis (`TM`/`TN` in the shaders; constants there, not overrides).
pub const MATMUL_T: u32 = 4;

impl MatmulTiling {
    /// 64 x 64 output tiles, 256 invocations: discrete GPUs and the default.
    pub const LARGE: Self = Self {
        name: "large",
        wg_x: 16,
        wg_y: 16,
        bk: 16,
        direct: false,
    };
    /// 32 x 64 output tiles, 128 invocations: integrated GPUs.
    pub const MEDIUM: Self = Self {
        name: "medium",
        wg_x: 16,
        wg_y: 8,
        bk: 16,
        direct: false,
    };
    /// 32 x 32 output tiles, 64 invocations: mobile GPUs, and any adapter with small limits.
    pub const SMALL: Self = Self {
        name: "small",
        wg_x: 8,
        wg_y: 8,
        bk: 16,
        direct: false,
    };

    /// The direct kernels: 8 x 8 invocations of 4 x 4 outputs each (a 32 x 32 tile), no workgroup memory:
    /// software adapters (device type `Cpu`).
    pub const DIRECT: Self = Self {
        name: "direct",
        wg_x: 8,
        wg_y: 8,
        bk: 0,
        direct: true,
    };

    /// Every row of the table (the tests run the matmul kernels with each).
    pub const ALL: [Self; 4] = [Self::LARGE, Self::MEDIUM, Self::SMALL, Self::DIRECT];

    /// The table's choice for an adapter, shrunk to `SMALL` if the adapter's limits are below the choice.
    pub fn for_adapter(info: &wgpu::AdapterInfo, limits: &wgpu::Limits) -> Self {
        let chosen = Self::by_vendor(info);
        if chosen.fits(limits) {
            chosen
        } else {
            Self::SMALL
        }
    }

    /// The table lookup itself: software first (a CPU adapter says nothing about a vendor's GPU), then the
    /// PCI vendor id, then words of the adapter's name (all the browser tells).
    fn by_vendor(info: &wgpu::AdapterInfo) -> Self {
        if info.device_type == wgpu::DeviceType::Cpu {
            // Measured on lavapipe and SwiftShader (see the module's comment); whatever vendor id it reports.
            return Self::DIRECT;
        }
        let name = info.name.to_lowercase();
        let named = |words: &[&str]| words.iter().any(|w| name.contains(w));
        match info.vendor {
            0x10de | 0x1002 | 0x1022 | 0x106b => Self::LARGE, // NVIDIA, AMD (two ids), Apple
            0x8086 => Self::MEDIUM,                           // Intel
            0x5143 | 0x13b5 | 0x1010 => Self::SMALL,          // Qualcomm, ARM, Imagination
            // Software rasterisers by name (WARP is not measured; it is a CPU emulation like the others).
            _ if named(&["llvmpipe", "lavapipe", "swiftshader", "warp"]) => Self::DIRECT,
            _ if named(&["intel"]) => Self::MEDIUM,
            _ if named(&["adreno", "mali", "powervr", "qualcomm"]) => Self::SMALL,
            _ => Self::LARGE,
        }
    }

    /// True when the adapter allows this many invocations and this much workgroup memory.
    pub fn fits(&self, limits: &wgpu::Limits) -> bool {
        self.wg_x * self.wg_y <= limits.max_compute_invocations_per_workgroup
            && self.wg_x <= limits.max_compute_workgroup_size_x
            && self.wg_y <= limits.max_compute_workgroup_size_y
            && self.workgroup_bytes() <= limits.max_compute_workgroup_storage_size
    }

    /// Bytes of workgroup memory of one workgroup: a BK x BM and a BK x BN tile of f32s.
    pub fn workgroup_bytes(&self) -> u32 {
        if self.direct {
            return 0;
        }
        4 * self.bk * MATMUL_T * (self.wg_x + self.wg_y)
    }

    /// The `override` constants of the tiled kernels (the direct kernels have no `BK`).
    pub fn constants(&self) -> Vec<(&'static str, f64)> {
        let mut constants = vec![
            ("WG_X", f64::from(self.wg_x)),
            ("WG_Y", f64::from(self.wg_y)),
        ];
        if !self.direct {
            constants.push(("BK", f64::from(self.bk)));
        }
        constants
    }

    /// Workgroup counts covering a (rows, cols) output: x along cols, y along rows (both kinds of kernel own
    /// 4 x 4 outputs per invocation).
    pub fn workgroups(&self, rows: usize, cols: usize) -> [u32; 3] {
        [
            (cols as u32).div_ceil(self.wg_x * MATMUL_T),
            (rows as u32).div_ceil(self.wg_y * MATMUL_T),
            1,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(vendor: u32, device_type: wgpu::DeviceType, name: &str) -> wgpu::AdapterInfo {
        wgpu::AdapterInfo {
            name: name.into(),
            vendor,
            device: 0,
            device_type,
            device_pci_bus_id: String::new(),
            driver: String::new(),
            driver_info: String::new(),
            backend: wgpu::Backend::Vulkan,
            subgroup_min_size: 4,
            subgroup_max_size: 32,
            transient_saves_memory: None,
            limit_bucket: None,
        }
    }

    #[test]
    fn table_picks_by_device_type_then_vendor_then_name() {
        let limits = wgpu::Limits::default();
        let pick = |v, t, n: &str| MatmulTiling::for_adapter(&info(v, t, n), &limits);
        use wgpu::DeviceType::*;
        assert_eq!(
            pick(0x10005, Cpu, "llvmpipe (LLVM 15)"),
            MatmulTiling::DIRECT
        );
        assert_eq!(pick(0x5143, Cpu, "Adreno via a CPU"), MatmulTiling::DIRECT); // software first
        assert_eq!(pick(0, Cpu, ""), MatmulTiling::DIRECT); // a browser's fallback adapter
        assert_eq!(pick(0, Other, "swiftshader adreno"), MatmulTiling::DIRECT); // software names first
        assert_eq!(
            pick(0x10de, DiscreteGpu, "NVIDIA H100"),
            MatmulTiling::LARGE
        );
        assert_eq!(
            pick(0x8086, IntegratedGpu, "Intel UHD"),
            MatmulTiling::MEDIUM
        );
        assert_eq!(
            pick(0x5143, IntegratedGpu, "Adreno 740"),
            MatmulTiling::SMALL
        );
        assert_eq!(pick(0, Other, "Intel(R) Iris Xe"), MatmulTiling::MEDIUM);
        assert_eq!(pick(0, Other, ""), MatmulTiling::LARGE);
    }

    #[test]
    fn small_limits_shrink_the_choice() {
        let limits = wgpu::Limits {
            max_compute_invocations_per_workgroup: 128,
            ..wgpu::Limits::downlevel_defaults()
        };
        let nvidia = info(0x10de, wgpu::DeviceType::DiscreteGpu, "NVIDIA");
        assert_eq!(
            MatmulTiling::for_adapter(&nvidia, &limits),
            MatmulTiling::SMALL
        );
    }

    #[test]
    fn every_tiling_fits_webgpu_default_limits() {
        // WebGPU's guaranteed limits: 256 invocations, 16 KiB of workgroup memory; BK a multiple of 4.
        let limits = wgpu::Limits::default();
        for tiling in MatmulTiling::ALL {
            assert!(tiling.fits(&limits), "{tiling:?}");
            assert!(tiling.workgroup_bytes() <= 16 * 1024, "{tiling:?}");
            assert_eq!(tiling.bk % 4, 0, "{tiling:?}");
        }
        assert_eq!(MatmulTiling::LARGE.workgroup_bytes(), 8 * 1024);
        assert_eq!(MatmulTiling::DIRECT.workgroup_bytes(), 0);
        assert_eq!(MatmulTiling::DIRECT.constants().len(), 2); // no BK override in the direct shaders
        assert_eq!(MatmulTiling::DIRECT.workgroups(33, 64), [2, 2, 1]);
        assert_eq!(MatmulTiling::LARGE.workgroups(65, 64), [1, 2, 1]);
    }
}
