//! The mlkd kernels' entries in the shader table: the WGSL files of this folder, and the
//! bindings each entry point expects; `KERNELS` lists them for the loss's registration.

use crate::kernel::BindingKind::{ReadOnly as R, ReadWrite as W, Uniform as U};
use crate::kernel::Kernel;

/// MLKD's declarations.
pub const MLKD_LIB: &str = include_str!("mlkd_common.wgsl");

/// MLKD's declarations, LS's row moments and the row function (the row pass; its kernel files
/// supply the slot access), after the row function's constants: `LS_ROWS` (LS on or off) and
/// its temperature layout, `FIFTH_TEMPERATURE` (exactly five), `SQUARED_TEMPERATURES` (five,
/// the first two half the third and fifth: shared exponentials, mlkd_five.wgsl) and
/// `HIGH_TEMPERATURES` (six to eight). Compiled in, not read from the parameters: on lavapipe
/// a branch on a uniform value inside the sweeps cost as much as the fifth temperature's own
/// work.
macro_rules! rows_lib {
    ($ls:literal, $fifth:literal, $squared:literal, $high:literal) => {
        concat!(
            "const LS_ROWS: bool = ",
            $ls,
            ";\nconst FIFTH_TEMPERATURE: bool = ",
            $fifth,
            ";\nconst SQUARED_TEMPERATURES: bool = ",
            $squared,
            ";\nconst HIGH_TEMPERATURES: bool = ",
            $high,
            ";\n",
            include_str!("mlkd_common.wgsl"),
            "\n",
            include_str!("../standardize/standardize.wgsl"),
            "\n",
            include_str!("mlkd_row.wgsl"),
            "\n",
            include_str!("mlkd_five.wgsl")
        )
    };
}

/// The row pass in one slot form (`$base`) for LS on or off (`$ls`, `$prefix` of the variant
/// names), by the temperature layout ([`TemperatureLayout`]'s order).
macro_rules! layout_variants {
    ($base:expr, $ls:literal, $prefix:literal) => {
        [
            Kernel {
                family: rows_lib!($ls, "false", "false", "false"),
                variant: concat!($prefix, "t4"),
                ..$base
            },
            Kernel {
                family: rows_lib!($ls, "true", "false", "false"),
                variant: concat!($prefix, "t5"),
                ..$base
            },
            Kernel {
                family: rows_lib!($ls, "true", "true", "false"),
                variant: concat!($prefix, "t5-squared"),
                ..$base
            },
            Kernel {
                family: rows_lib!($ls, "false", "false", "true"),
                variant: concat!($prefix, "t8"),
                ..$base
            },
        ]
    };
}

/// The row pass in one slot form (`$base`), by LS (off, on) and by the temperature layout.
macro_rules! row_variants {
    ($base:expr) => {
        [
            layout_variants!($base, "false", ""),
            layout_variants!($base, "true", "ls-"),
        ]
    };
}

/// How the row pass holds the temperatures (the index of its variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemperatureLayout {
    /// One to four: one vector, one component a temperature.
    UpToFour = 0,
    /// Exactly five: the fifth a scalar beside the first four's vector (mlkd_five.wgsl).
    Five = 1,
    /// Five with 1/T0 = 2/T2 and 1/T1 = 2/T4 exactly ({2, 3, 4, 5, 6}): the first two
    /// exponentials the squares of the third's and fifth's.
    FiveSquared = 2,
    /// Six to eight: two vectors.
    UpToEight = 3,
}

impl TemperatureLayout {
    /// The layout for these inverse temperatures (1 to 8 of them, as the kernel gets them).
    pub fn of(inverses: &[f32]) -> Self {
        match inverses {
            [i0, i1, i2, _, i4] if *i0 == 2.0 * i2 && *i1 == 2.0 * i4 => Self::FiveSquared,
            [_, _, _, _, _] => Self::Five,
            _ if inverses.len() <= 4 => Self::UpToFour,
            _ => Self::UpToEight,
        }
    }
}

/// The row pass, one-class loads: the instance term at every temperature, its gradient, the
/// softmaxes' statistics. (Its variants carry the family.)
const ROWS_STRIDED: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_rows.wgsl",
    source: include_str!("mlkd_rows.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_rows",
    bindings: &[U, R, R, W, W, W],
};

/// The row pass, four consecutive classes per load and store.
const ROWS_QUADS: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_rows_quads.wgsl",
    source: include_str!("mlkd_rows_quads.wgsl"),
    quads: true,
    entry: "mlkd_rows_quads",
    ..ROWS_STRIDED
};

/// Five temperatures arranged as [`TemperatureLayout::FiveSquared`] takes them (T0 = T2/2,
/// T1 = T4/2, exactly in the kernel's f32 inverses), in whatever order they were given: the
/// first such arrangement of the sorted list, so that every order of a set gives the same
/// kernel order and the same bits (mdistiller lists the default as 4, 3, 5, 2, 6). `None`
/// where no arrangement pairs up. The loss is a sum over the temperatures: the order only
/// moves its rounding.
pub fn paired_order(temperatures: &[f64]) -> Option<[f64; 5]> {
    let mut sorted: [f64; 5] = temperatures.try_into().ok()?;
    sorted.sort_by(f64::total_cmp);
    let inverse = |i: usize| (1.0 / sorted[i]) as f32;
    let halves = |small: usize, large: usize| inverse(small) == 2.0 * inverse(large);
    for i0 in 0..5 {
        for i1 in (0..5).filter(|&i| i != i0) {
            for i2 in (0..5).filter(|&i| i != i0 && i != i1 && halves(i0, i)) {
                let i4 = (0..5).find(|&i| ![i0, i1, i2].contains(&i) && halves(i1, i));
                if let Some(i4) = i4 {
                    let i3 = (0..5).find(|i| ![i0, i1, i2, i4].contains(i))?;
                    return Some([i0, i1, i2, i3, i4].map(|i| sorted[i]));
                }
            }
        }
    }
    None
}

/// The row pass's variants, one-class slots: `[LS off, on][TemperatureLayout]`.
pub const MLKD_ROWS: [[Kernel; 4]; 2] = row_variants!(ROWS_STRIDED);

/// The row pass's variants, quad slots, indexed as [`MLKD_ROWS`].
pub const MLKD_ROWS_QUADS: [[Kernel; 4]; 2] = row_variants!(ROWS_QUADS);

/// The row pass for LS on or off, quad slots or not, and a temperature layout.
pub fn row_kernel(standardize: bool, quads: bool, layout: TemperatureLayout) -> Kernel {
    let table = if quads { &MLKD_ROWS_QUADS } else { &MLKD_ROWS };
    table[usize::from(standardize)][layout as usize]
}

/// One temperature's raw softmaxes from the row statistics, one invocation per element.
pub const MLKD_PROBS: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_probs.wgsl",
    source: include_str!("mlkd_probs.wgsl"),
    dtype_aware: true,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_probs",
    bindings: &[U, R, R, R, W],
};

/// A correlation Gram (class or batch) at one temperature, tiled, with its tiles' Σ D².
pub const MLKD_GRAM: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_gram.wgsl",
    source: include_str!("mlkd_gram.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_gram",
    bindings: &[U, R, W, W],
};

/// The correlation terms' ∂L/∂Ps at one temperature, one invocation per element.
pub const MLKD_CORR_SLOPES: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_corr_slopes.wgsl",
    source: include_str!("mlkd_corr_slopes.wgsl"),
    dtype_aware: false,
    student_only: false,
    quads: false,
    family: MLKD_LIB,
    variant: "",
    entry: "mlkd_corr_slopes",
    bindings: &[U, R, R, R, W],
};

/// The slopes through the softmax, added to the gradient, per row.
pub const MLKD_CORR_GRAD: Kernel = Kernel {
    file: "src/losses/mlkd/mlkd_corr_grad.wgsl",
    source: include_str!("mlkd_corr_grad.wgsl"),
    entry: "mlkd_corr_grad",
    bindings: &[U, R, R, W],
    ..MLKD_CORR_SLOPES
};

/// Every kernel of this folder (registered with the loss: `crate::losses::registry`).
pub const KERNELS: &[Kernel] = &[
    MLKD_ROWS[0][0],
    MLKD_ROWS[0][1],
    MLKD_ROWS[0][2],
    MLKD_ROWS[0][3],
    MLKD_ROWS[1][0],
    MLKD_ROWS[1][1],
    MLKD_ROWS[1][2],
    MLKD_ROWS[1][3],
    MLKD_ROWS_QUADS[0][0],
    MLKD_ROWS_QUADS[0][1],
    MLKD_ROWS_QUADS[0][2],
    MLKD_ROWS_QUADS[0][3],
    MLKD_ROWS_QUADS[1][0],
    MLKD_ROWS_QUADS[1][1],
    MLKD_ROWS_QUADS[1][2],
    MLKD_ROWS_QUADS[1][3],
    MLKD_PROBS,
    MLKD_GRAM,
    MLKD_CORR_SLOPES,
    MLKD_CORR_GRAD,
];

#[cfg(test)]
mod tests {
    use super::{paired_order, TemperatureLayout};

    fn layout(temperatures: &[f64]) -> TemperatureLayout {
        let inverses: Vec<f32> = temperatures.iter().map(|t| (1.0 / t) as f32).collect();
        TemperatureLayout::of(&inverses)
    }

    #[test]
    fn squared_temperatures_need_the_exact_ratio() {
        assert_eq!(
            layout(&[2.0, 3.0, 4.0, 5.0, 6.0]),
            TemperatureLayout::FiveSquared
        );
        assert_eq!(
            layout(&[1.5, 2.5, 3.0, 4.0, 5.0]),
            TemperatureLayout::FiveSquared
        );
        assert_eq!(layout(&[4.0, 3.0, 5.0, 2.0, 6.0]), TemperatureLayout::Five);
        assert_eq!(
            layout(&[2.0, 3.0, 4.0, 5.0, 6.0001]),
            TemperatureLayout::Five
        );
        assert_eq!(layout(&[4.0]), TemperatureLayout::UpToFour);
        assert_eq!(layout(&[1.0, 2.0, 3.0, 4.0]), TemperatureLayout::UpToFour);
        assert_eq!(
            layout(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            TemperatureLayout::UpToEight
        );
    }

    #[test]
    fn any_order_of_a_paired_set_is_arranged_the_same() {
        let default = Some([2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(paired_order(&[2.0, 3.0, 4.0, 5.0, 6.0]), default);
        assert_eq!(paired_order(&[4.0, 3.0, 5.0, 2.0, 6.0]), default);
        assert_eq!(paired_order(&[6.0, 5.0, 4.0, 3.0, 2.0]), default);
        assert_eq!(
            paired_order(&[5.0, 1.5, 4.0, 3.0, 2.5]),
            Some([1.5, 2.5, 3.0, 4.0, 5.0])
        );
        // 1 pairs with 2, but nothing pairs with the rest.
        assert_eq!(paired_order(&[1.0, 2.0, 3.0, 5.0, 7.0]), None);
        assert_eq!(paired_order(&[2.0, 3.0, 4.0, 6.0]), None);
        let arranged = paired_order(&[4.0, 3.0, 5.0, 2.0, 6.0]).unwrap();
        assert_eq!(layout(&arranged), TemperatureLayout::FiveSquared);
    }
}
