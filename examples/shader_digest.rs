//! A digest of every assembled WGSL module source: each kernel of `ALL_KERNELS` in every input
//! dtype, gradient dtype and reduction form, its counted forms and its binding table, hashed
//! one by one and combined in sorted order (so the order of the kernel list does not count).
//! A refactor that must leave the shaders alone prints the same line before and after:
//! `cargo run --example shader_digest`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use wgpu_distill::shaders::ALL_KERNELS;
use wgpu_distill::InputDtype;

fn digest(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

fn main() {
    let dtypes = [InputDtype::F32, InputDtype::F16, InputDtype::Bf16];
    let mut digests = Vec::new();
    for kernel in ALL_KERNELS.iter() {
        for &inputs in &dtypes {
            for &grad in &dtypes {
                for subgroups in [false, true] {
                    let source = kernel.module_source_with(inputs, grad, subgroups);
                    digests.push(digest(&source));
                }
            }
        }
        for subgroups in [false, true] {
            digests.push(digest(&kernel.module_source_counted(subgroups)));
        }
        let table = format!("{} {} {:?}", kernel.file, kernel.entry, kernel.bindings);
        digests.push(digest(&table));
    }
    digests.sort_unstable();
    let mut distinct = digests.clone();
    distinct.dedup();
    let mut all = DefaultHasher::new();
    digests.hash(&mut all);
    println!(
        "{} kernels, {} sources ({} distinct), digest {:016x}",
        ALL_KERNELS.len(),
        digests.len(),
        distinct.len(),
        all.finish()
    );
}
