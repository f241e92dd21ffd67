//! Every shader parsed and validated by naga with the overridable constants the library sets,
//! then translated to SPIR-V, MSL, HLSL and GLSL, so a backend's breakage shows on any machine.
//! The bindings each shader declares are compared with the layouts the Rust code creates.

use naga::back;
use naga::valid::{Capabilities, ValidationFlags, Validator};
use wgpu_distill::shaders::{BindingKind, Kernel, ALL_KERNELS, SUBGROUP_PROBE, WORKGROUP_SIZE};
use wgpu_distill::InputDtype;

fn validated(source: &str, tpr: u32) -> (naga::Module, naga::valid::ModuleInfo) {
    validated_with(source, tpr, Capabilities::empty())
}

fn validated_with(
    source: &str,
    tpr: u32,
    capabilities: Capabilities,
) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
    let info = Validator::new(ValidationFlags::all(), capabilities)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}", e.emit_to_string(source)));
    // The lanes per row, in modules that have them (not the subgroup probe), and the
    // subgroup size the subgroup forms finish with (lavapipe's 8: TPR above it takes the
    // hybrid path, at most it the shuffles alone).
    let constants: naga::back::PipelineConstants = [("TPR", f64::from(tpr)), ("SG", 8.0)]
        .into_iter()
        .filter(|(name, _)| source.contains(&format!("override {name}")))
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    let (module, info) =
        back::pipeline_constants::process_overrides(&module, &info, None, &constants)
            .unwrap_or_else(|e| panic!("overrides: {e}"));
    (module.into_owned(), info.into_owned())
}

#[test]
fn every_shader_validates_and_translates_for_every_backend() {
    for (kernel, dtype) in kernels_and_dtypes() {
        let source = kernel.module_source_for(dtype);
        // Every value the library sets: a power of two from 1 to WG.
        for tpr in (0..=WORKGROUP_SIZE.trailing_zeros()).map(|k| 1u32 << k) {
            let (module, info) = validated(&source, tpr);
            let what = format!("{}::{} ({dtype:?}, TPR {tpr})", kernel.file, kernel.entry);
            let spirv = back::spv::write_vec(&module, &info, &back::spv::Options::default(), None)
                .unwrap_or_else(|e| panic!("{what}: SPIR-V: {e}"));
            if tpr == 8 {
                spirv_val(&what, &spirv);
            }
            let mut msl = String::new();
            back::msl::Writer::new(&mut msl)
                .write(
                    &module,
                    &info,
                    &back::msl::Options::default(),
                    &back::msl::PipelineOptions::default(),
                )
                .unwrap_or_else(|e| panic!("{what}: MSL: {e}"));
            let mut hlsl = String::new();
            back::hlsl::Writer::new(
                &mut hlsl,
                &back::hlsl::Options::default(),
                &Default::default(),
            )
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{what}: HLSL: {e}"));
            let mut glsl = String::new();
            let options = back::glsl::Options {
                version: back::glsl::Version::Embedded {
                    version: 310,
                    is_webgl: false,
                },
                ..Default::default()
            };
            let pipeline = back::glsl::PipelineOptions {
                shader_stage: naga::ShaderStage::Compute,
                entry_point: kernel.entry.to_string(),
                multiview: None,
            };
            back::glsl::Writer::new(
                &mut glsl,
                &module,
                &info,
                &options,
                &pipeline,
                naga::proc::BoundsCheckPolicies::default(),
            )
            .and_then(|mut w| w.write())
            .unwrap_or_else(|e| panic!("{what}: GLSL: {e}"));
        }
    }
}

/// The subgroup forms of the reductions (lib/segment_subgroup.wgsl) and the subgroup probe:
/// valid under the SUBGROUP capability alone (what wgpu's SUBGROUP feature grants), for every
/// lane count they are used with (1 to 256: shuffles alone up to SG = 8, the hybrid above),
/// and translated to SPIR-V (checked by spirv-val for Vulkan 1.1), MSL and HLSL. GL has no
/// subgroups: no GLSL.
#[test]
fn subgroup_forms_validate_under_the_subgroup_capability() {
    let capabilities = Capabilities::SUBGROUP;
    let probe = [(SUBGROUP_PROBE.to_string(), "subgroup_probe".to_string(), 1)];
    let kernels = kernels_and_dtypes()
        .into_iter()
        .flat_map(|(kernel, dtype)| {
            (0..=8).map(move |k| {
                (
                    kernel.module_source(dtype, true),
                    format!("{}::{} ({dtype:?}, subgroups)", kernel.file, kernel.entry),
                    1u32 << k,
                )
            })
        });
    for (source, what, tpr) in probe.into_iter().chain(kernels) {
        let (module, info) = validated_with(&source, tpr, capabilities);
        let what = format!("{what} TPR {tpr}");
        let options = back::spv::Options {
            lang_version: (1, 3),
            ..Default::default()
        };
        let spirv = back::spv::write_vec(&module, &info, &options, None)
            .unwrap_or_else(|e| panic!("{what}: SPIR-V: {e}"));
        if tpr == 8 || tpr == 64 {
            spirv_val(&what, &spirv);
        }
        let mut msl = String::new();
        let msl_options = back::msl::Options {
            lang_version: (2, 1),
            ..Default::default()
        };
        back::msl::Writer::new(&mut msl)
            .write(&module, &info, &msl_options, &Default::default())
            .unwrap_or_else(|e| panic!("{what}: MSL: {e}"));
        let mut hlsl = String::new();
        let hlsl_options = back::hlsl::Options {
            shader_model: back::hlsl::ShaderModel::V6_0,
            ..Default::default()
        };
        back::hlsl::Writer::new(&mut hlsl, &hlsl_options, &Default::default())
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{what}: HLSL: {e}"));
    }
}

/// Runs `spirv-val` on the module when it is installed (`.ci/run` installs spirv-tools).
fn spirv_val(what: &str, words: &[u32]) {
    let Ok(probe) = std::process::Command::new("spirv-val")
        .arg("--version")
        .output()
    else {
        eprintln!("spirv-val not installed: SPIR-V checked by naga only");
        return;
    };
    assert!(probe.status.success());
    let path = std::env::temp_dir().join(format!(
        "wgpu-distill-{}-{}.spv",
        std::process::id(),
        what.replace([':', ' ', '(', ')', '/'], "_")
    ));
    std::fs::write(
        &path,
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let out = std::process::Command::new("spirv-val")
        .args(["--target-env", "vulkan1.1"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{what}: spirv-val: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_shader_states_its_uniformity_invariant() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for kernel in ALL_KERNELS.iter() {
        assert!(
            kernel.source.contains("Uniformity:"),
            "{} has no 'Uniformity:' line in its header",
            kernel.file
        );
        assert!(
            root.join(kernel.file).exists(),
            "{} does not exist",
            kernel.file
        );
    }
    assert!(SUBGROUP_PROBE.contains("Uniformity:"));
}

/// The `.wgsl` files of a folder and its subfolders.
fn wgsl_files(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            wgsl_files(&path, found);
        } else if path.extension().is_some_and(|x| x == "wgsl") {
            found.push(path);
        }
    }
}

/// Every `.wgsl` file (the shared ones under `shaders/`, each loss's beside its Rust under
/// `src/losses/<loss>/`) is a kernel of the table or part of some module the library
/// assembles: no file is left behind by a move, and no kernel is missing from `ALL_KERNELS`.
#[test]
fn every_wgsl_file_is_assembled_into_a_module() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    wgsl_files(&root.join("shaders"), &mut files);
    wgsl_files(&root.join("src"), &mut files);
    let mut modules: Vec<String> = vec![SUBGROUP_PROBE.to_string()];
    for (kernel, dtype) in kernels_and_dtypes() {
        for subgroups in [false, true] {
            modules.push(kernel.module_source(dtype, subgroups));
            if kernel.quads {
                for grad in [InputDtype::F16, InputDtype::Bf16] {
                    modules.push(kernel.module_source_with(dtype, grad, subgroups));
                }
            }
        }
        modules.push(kernel.module_source_counted(false));
    }
    let kernel_files: std::collections::HashSet<_> = ALL_KERNELS.iter().map(|k| k.file).collect();
    assert!(files.len() >= kernel_files.len());
    for file in files {
        let relative = file
            .strip_prefix(root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        if kernel_files.contains(relative.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            modules.iter().any(|m| m.contains(text.trim())),
            "{relative} is in no kernel's module (a kernel missing from ALL_KERNELS?)"
        );
    }
}

/// Every kernel with every input dtype it takes.
fn kernels_and_dtypes() -> Vec<(Kernel, InputDtype)> {
    ALL_KERNELS
        .iter()
        .flat_map(|k| {
            let dtypes: &[InputDtype] = if k.dtype_aware {
                &[InputDtype::F32, InputDtype::F16, InputDtype::Bf16]
            } else {
                &[InputDtype::F32]
            };
            dtypes.iter().map(move |d| (*k, *d))
        })
        .collect()
}

#[test]
fn declared_bindings_match_the_shaders() {
    for (kernel, dtype) in kernels_and_dtypes() {
        let source = kernel.module_source_for(dtype);
        let (module, info) = validated(&source, WORKGROUP_SIZE);
        let entry_index = module
            .entry_points
            .iter()
            .position(|e| e.name == kernel.entry)
            .unwrap_or_else(|| panic!("{} has no entry {}", kernel.file, kernel.entry));
        let used = info.get_entry_point(entry_index);
        let mut found = vec![];
        for (handle, var) in module.global_variables.iter() {
            let Some(binding) = &var.binding else {
                continue;
            };
            if used[handle].is_empty() {
                continue;
            }
            assert_eq!(binding.group, 0, "{}", kernel.file);
            let kind = match var.space {
                naga::AddressSpace::Uniform => BindingKind::Uniform,
                naga::AddressSpace::Storage { access }
                    if access.contains(naga::StorageAccess::STORE) =>
                {
                    BindingKind::ReadWrite
                }
                naga::AddressSpace::Storage { .. } => BindingKind::ReadOnly,
                other => panic!("{}: unexpected space {other:?}", kernel.file),
            };
            found.push((binding.binding, kind));
        }
        found.sort_by_key(|(b, _)| *b);
        let declared: Vec<_> = kernel
            .bindings
            .iter()
            .enumerate()
            .map(|(i, k)| (i as u32, *k))
            .collect();
        assert_eq!(
            found, declared,
            "{}::{}: shader bindings differ from the Rust layout",
            kernel.file, kernel.entry
        );
    }
}
