//! The token kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// The dense skeleton's library: the token declarations, the slots and the row skeleton, then
/// the given files (a loss's term, and the mixture logs for those that mix p and q).
macro_rules! dense_lib {
    ($($file:literal),+) => {
        concat!(
            include_str!("token_common.wgsl"),
            "\n",
            include_str!("token_slots.wgsl"),
            "\n",
            include_str!("token_rows.wgsl"),
            $("\n", include_str!($file)),+
        )
    };
}

/// The token losses' declarations and the sparse teacher's row logic (its kernel files supply
/// the slot access).
pub const TOKEN_SPARSE_LIB: &str = concat!(
    include_str!("token_common.wgsl"),
    "\n",
    include_str!("token_sparse_rows.wgsl")
);

/// The token losses' declarations, the dense row skeleton, then each loss's per-class term
/// (see `token_common.wgsl`): the skeleton is written once, the terms once each.
pub const TOKEN_KL_LIB: &str = dense_lib!("token_term_kl.wgsl");

/// kl with LS or CTKD: the token declarations, LS's row moments, its own row function
/// (`token_ls_rows.wgsl`) and KL's term, after the row function's three constants.
macro_rules! ls_lib {
    ($full_rows:literal, $held_rows:literal, $standardize:literal) => {
        concat!(
            "const FULL_ROWS: bool = ",
            $full_rows,
            ";\nconst HELD_ROWS: bool = ",
            $held_rows,
            ";\nconst STANDARDIZE_ROWS: bool = ",
            $standardize,
            ";\n",
            include_str!("token_common.wgsl"),
            "\n",
            include_str!("token_slots.wgsl"),
            "\n",
            include_str!("../standardize/standardize.wgsl"),
            "\n",
            include_str!("token_ls_rows.wgsl"),
            "\n",
            include_str!("token_term_kl.wgsl")
        )
    };
}

/// The skeleton with the mixture logs (`token_mix.wgsl`) and jsd's term.
pub const TOKEN_JSD_LIB: &str = dense_lib!("token_mix.wgsl", "token_term_jsd.wgsl");

/// The skeleton with the mixture logs (`token_mix.wgsl`) and skl's term.
pub const TOKEN_SKL_LIB: &str = dense_lib!("token_mix.wgsl", "token_term_skl.wgsl");

/// The skeleton with the mixture logs (`token_mix.wgsl`) and srkl's term.
pub const TOKEN_SRKL_LIB: &str = dense_lib!("token_mix.wgsl", "token_term_srkl.wgsl");

/// The skeleton with tvd's term.
pub const TOKEN_TVD_LIB: &str = dense_lib!("token_term_tvd.wgsl");

/// Token-loss rows (any C): KL with labels / normaliser / hard term.
pub const TOKEN_KL_ROWS: Kernel = Kernel {
    file: "src/losses/token/token.wgsl",
    source: include_str!("token.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: TOKEN_KL_LIB,
    variant: "kl",
    entry: "token_rows",
    bindings: &[U, R, R, R, R, W, W],
};

/// Token-loss rows, four classes per load and store: KL.
pub const TOKEN_KL_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/token/token_quads.wgsl",
    source: include_str!("token_quads.wgsl"),
    quads: true,
    entry: "token_rows_quads",
    ..TOKEN_KL_ROWS
};

/// The variants of kl with LS or CTKD (`token_ls_rows.wgsl`): LS on or off (CTKD alone), with
/// or without the hard term and WTTM's weight, rows streamed or held, each any C and quads.
/// The plan picks one. Each choice is compiled in: on lavapipe a branch on a uniform value
/// inside the sweeps costs instructions even where it is never taken.
#[derive(Clone, Copy, Debug, Default)]
pub struct LsKernels {
    /// LS (the row moments, the z-score); off for CTKD's ∂L/∂T alone.
    pub standardize: bool,
    /// The hard term and WTTM's weight compiled in.
    pub full: bool,
    /// Rows held in registers.
    pub held: bool,
    /// Four classes per load.
    pub quads: bool,
}

impl LsKernels {
    /// The kernel of this variant.
    pub const fn kernel(&self) -> Kernel {
        let (family, variant) = match (self.standardize, self.full, self.held) {
            (true, true, false) => (ls_lib!("true", "false", "true"), "kl_ls"),
            (true, true, true) => (ls_lib!("true", "true", "true"), "kl_ls_held"),
            (true, false, false) => (ls_lib!("false", "false", "true"), "kl_ls_lean"),
            (true, false, true) => (ls_lib!("false", "true", "true"), "kl_ls_lean_held"),
            (false, true, false) => (ls_lib!("true", "false", "false"), "kl_ctkd"),
            (false, true, true) => (ls_lib!("true", "true", "false"), "kl_ctkd_held"),
            (false, false, false) => (ls_lib!("false", "false", "false"), "kl_ctkd_lean"),
            (false, false, true) => (ls_lib!("false", "true", "false"), "kl_ctkd_lean_held"),
        };
        let base = if self.quads {
            TOKEN_KL_ROWS_QUADS
        } else {
            TOKEN_KL_ROWS
        };
        Kernel {
            family,
            variant,
            ..base
        }
    }

    /// Variant `i` of the 16 (its bits: quads, held, full, standardize), for the kernel list.
    const fn nth(i: u8) -> Kernel {
        LsKernels {
            standardize: i & 8 != 0,
            full: i & 4 != 0,
            held: i & 2 != 0,
            quads: i & 1 != 0,
        }
        .kernel()
    }
}

/// Token-loss rows: generalized JSD.
pub const TOKEN_JSD_ROWS: Kernel = Kernel {
    family: TOKEN_JSD_LIB,
    variant: "jsd",
    ..TOKEN_KL_ROWS
};

/// Token-loss rows, quads: generalized JSD.
pub const TOKEN_JSD_ROWS_QUADS: Kernel = Kernel {
    family: TOKEN_JSD_LIB,
    variant: "jsd",
    ..TOKEN_KL_ROWS_QUADS
};

/// Token-loss rows: TVD.
pub const TOKEN_TVD_ROWS: Kernel = Kernel {
    family: TOKEN_TVD_LIB,
    variant: "tvd",
    ..TOKEN_KL_ROWS
};

/// Token-loss rows, quads: TVD.
pub const TOKEN_TVD_ROWS_QUADS: Kernel = Kernel {
    family: TOKEN_TVD_LIB,
    variant: "tvd",
    ..TOKEN_KL_ROWS_QUADS
};

/// Token-loss rows: skew KL (`skew` in `beta`).
pub const TOKEN_SKL_ROWS: Kernel = Kernel {
    family: TOKEN_SKL_LIB,
    variant: "skl",
    ..TOKEN_KL_ROWS
};

/// Token-loss rows, quads: skew KL.
pub const TOKEN_SKL_ROWS_QUADS: Kernel = Kernel {
    family: TOKEN_SKL_LIB,
    variant: "skl",
    ..TOKEN_KL_ROWS_QUADS
};

/// Token-loss rows: skew reverse KL (`skew` in `beta`).
pub const TOKEN_SRKL_ROWS: Kernel = Kernel {
    family: TOKEN_SRKL_LIB,
    variant: "srkl",
    ..TOKEN_KL_ROWS
};

/// Token-loss rows, quads: skew reverse KL.
pub const TOKEN_SRKL_ROWS_QUADS: Kernel = Kernel {
    family: TOKEN_SRKL_LIB,
    variant: "srkl",
    ..TOKEN_KL_ROWS_QUADS
};

/// KL against a sparse top-k teacher (f32 student and log-probs), with the token options.
pub const TOKEN_SPARSE_ROWS: Kernel = Kernel {
    file: "src/losses/token/token_sparse.wgsl",
    source: include_str!("token_sparse.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: TOKEN_SPARSE_LIB,
    variant: "",
    entry: "token_sparse_rows",
    bindings: &[U, R, R, R, R, W, W, R, R],
};

/// The sparse teacher, four classes per load and store (C a multiple of 4).
pub const TOKEN_SPARSE_ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/token/token_sparse_quads.wgsl",
    source: include_str!("token_sparse_quads.wgsl"),
    entry: "token_sparse_rows_quads",
    // The student through lib/sparse_student_*x4.wgsl: f32, f16 or bf16 logits.
    dtype_aware: true,
    student_only: true,
    quads: true,
    ..TOKEN_SPARSE_ROWS
};

/// The sparse teacher's per-row bitmap of its ids (for the tail's log-mass).
pub const TOKEN_SPARSE_BITS: Kernel = Kernel {
    file: "src/losses/token/token_sparse_bits.wgsl",
    source: include_str!("token_sparse_bits.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "token_sparse_bits",
    bindings: &[U, R, W],
};

/// The token losses' valid-row count (labels without a caller's normaliser).
pub const TOKEN_COUNT: Kernel = Kernel {
    file: "src/losses/token/token_count.wgsl",
    source: include_str!("token_count.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: "",
    variant: "",
    entry: "token_count",
    bindings: &[U, R, W],
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[
    TOKEN_KL_ROWS,
    TOKEN_KL_ROWS_QUADS,
    LsKernels::nth(0),
    LsKernels::nth(1),
    LsKernels::nth(2),
    LsKernels::nth(3),
    LsKernels::nth(4),
    LsKernels::nth(5),
    LsKernels::nth(6),
    LsKernels::nth(7),
    LsKernels::nth(8),
    LsKernels::nth(9),
    LsKernels::nth(10),
    LsKernels::nth(11),
    LsKernels::nth(12),
    LsKernels::nth(13),
    LsKernels::nth(14),
    LsKernels::nth(15),
    TOKEN_JSD_ROWS,
    TOKEN_JSD_ROWS_QUADS,
    TOKEN_TVD_ROWS,
    TOKEN_TVD_ROWS_QUADS,
    TOKEN_SKL_ROWS,
    TOKEN_SKL_ROWS_QUADS,
    TOKEN_SRKL_ROWS,
    TOKEN_SRKL_ROWS_QUADS,
    TOKEN_SPARSE_ROWS,
    TOKEN_SPARSE_ROWS_QUADS,
    TOKEN_SPARSE_BITS,
    TOKEN_COUNT,
];
