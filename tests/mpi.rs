//! `evaluate_distributed` across the ranks of real MPI jobs on this machine (feature `mpi`).
//!
//! Started by `cargo test` (no MPI environment), this binary launches itself under `mpirun`
//! once per scenario, each run bounded by `timeout -k` so that nothing can hang the test run;
//! started by `mpirun`, it is one rank of the scenario named by its argument.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wgpu_distill::distributed::{Collective, MpiCollective, PANIC_EXIT_CODE, TIMEOUT_EXIT_CODE};
use wgpu_distill::losses::DkdParams;
use wgpu_distill::{
    synthetic, BackendChoice, DistParams, Error, GpuContext, Inputs, KlParams, LossSpec,
    TokenOptions, NO_ADAPTER_HELP,
};

/// Seconds any one `mpirun` may take before `timeout` ends it (and 10 s later kills it).
const JOB_LIMIT_S: u64 = 240;
/// What the rank of the "dead" scenario exits with (without finalising MPI).
const DEAD_EXIT_CODE: i32 = 3;

fn main() {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    if std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some() || std::env::var_os("PMI_SIZE").is_some()
    {
        rank_main(&scenario);
    } else {
        launcher();
    }
}

/// Each scenario: ranks, argument, the job's exit code.
fn launcher() {
    let scenarios: [(&str, usize, &str, i32); 6] = [
        ("two ranks match the whole batch", 2, "agree", 0),
        (
            "three ranks (one empty) match the whole batch",
            3,
            "agree",
            0,
        ),
        (
            "ranks that disagree all get the same error",
            3,
            "disagree",
            0,
        ),
        (
            "a rank that exits early ends the job",
            2,
            "dead",
            DEAD_EXIT_CODE,
        ),
        (
            "a rank that panics aborts the job",
            3,
            "panic",
            PANIC_EXIT_CODE,
        ),
        (
            "a collective past its timeout aborts the job",
            2,
            "stall",
            TIMEOUT_EXIT_CODE,
        ),
    ];
    let mut failures = 0;
    for (name, ranks, arg, expected) in scenarios {
        let start = Instant::now();
        let (code, output) = mpirun(ranks, arg);
        let took = start.elapsed().as_secs_f64();
        let ok = code == Some(expected);
        println!(
            "test mpi: {name} (mpirun -np {ranks} {arg}) ... {} ({took:.1} s, exit {code:?})",
            if ok { "ok" } else { "FAILED" }
        );
        if !ok {
            failures += 1;
            println!("---- output ----\n{output}");
        }
    }
    // The data-parallel example (built by `cargo test` beside this binary).
    let example = std::env::current_exe()
        .ok()
        .and_then(|me| Some(me.parent()?.parent()?.join("examples/data_parallel")))
        .filter(|path| path.exists())
        .expect("target/<profile>/examples/data_parallel is missing: `cargo test --features mpi` without `--test` builds the examples too");
    let start = Instant::now();
    let (code, output) = mpirun_program(3, &example, &["--epochs", "2"]);
    let ok = code == Some(0) && output.contains("every rank holds the same weights");
    println!(
        "test mpi: examples/data_parallel on 3 ranks matches one process ... {} ({:.1} s, exit {code:?})",
        if ok { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    if !ok {
        failures += 1;
        println!("---- output ----\n{output}");
    }
    if failures > 0 {
        eprintln!("{failures} MPI scenario(s) failed");
        std::process::exit(1);
    }
}

/// Runs this binary as `ranks` ranks on localhost: the exit code (None: killed by a signal)
/// and the combined output.
fn mpirun(ranks: usize, scenario: &str) -> (Option<i32>, String) {
    let me = std::env::current_exe().expect("the test binary's path");
    mpirun_program(ranks, &me, &[scenario])
}

/// Runs `program args` as `ranks` ranks on localhost.
fn mpirun_program(ranks: usize, program: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new("timeout")
        .args(["-k", "10", &JOB_LIMIT_S.to_string(), "mpirun"])
        .args(["--oversubscribe", "--mca", "btl", "self,vader"])
        .args([
            "--mca",
            "oob_tcp_if_include",
            "lo",
            "-np",
            &ranks.to_string(),
        ])
        .arg(program)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot start `timeout … mpirun`: {e} (install openmpi-bin, see the README)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn rank_main(scenario: &str) {
    let world = MpiCollective::world().expect("MPI");
    let rank = world.rank();
    match scenario {
        "agree" => agree(&world),
        "disagree" => disagree(&world),
        "dead" => {
            if rank == 1 {
                std::process::exit(DEAD_EXIT_CODE);
            }
            agree(&world);
        }
        "panic" => {
            if rank == 2 {
                panic!("rank 2 fails before the collective");
            }
            agree(&world);
        }
        "stall" => {
            let world = world.with_timeout(Duration::from_secs(3));
            if rank == 1 {
                std::thread::sleep(Duration::from_secs(JOB_LIMIT_S));
            }
            let _ = world.all_gather(&[1.0]);
            std::process::exit(0);
        }
        other => panic!("unknown scenario {other:?}"),
    }
}

fn context() -> GpuContext {
    GpuContext::new(BackendChoice::Vulkan)
        .unwrap_or_else(|e| panic!("Vulkan adapter required: {e}\n{NO_ADAPTER_HELP}"))
}

/// The whole batch of one case, the same on every rank.
struct Case {
    spec: LossSpec,
    rows: usize,
    cols: usize,
    student: Vec<f32>,
    teacher: Vec<f32>,
    labels: Option<Vec<i64>>,
}

fn cases() -> Vec<Case> {
    let (rows, cols) = (29, 100);
    let (student, teacher) = synthetic::logit_pair(11, rows, cols, 3.0);
    let targets: Vec<i64> = (0..rows as i64).map(|r| (r * 7) % cols as i64).collect();
    let masked: Vec<i64> = targets
        .iter()
        .enumerate()
        .map(|(r, &t)| if r % 4 == 1 { -100 } else { t })
        .collect();
    let case = |spec: LossSpec, labels: Option<Vec<i64>>| Case {
        spec,
        rows,
        cols,
        student: student.clone(),
        teacher: teacher.clone(),
        labels,
    };
    let hard = TokenOptions::default()
        .with_hard_weight(0.2)
        .with_soft_weight(0.8);
    let features = synthetic::normal_vec(12, rows * 48, 1.0);
    vec![
        case(
            LossSpec::Dist(
                DistParams::default()
                    .with_hard_weight(1.0)
                    .with_soft_weight(2.0),
            ),
            Some(targets.clone()),
        ),
        case(
            LossSpec::Kl(KlParams::new(4.0).with_options(hard)),
            Some(masked),
        ),
        case(LossSpec::Dkd(DkdParams::default()), Some(targets)),
        Case {
            spec: LossSpec::Fitnet,
            rows,
            cols: 48,
            student: features.clone(),
            teacher: features.iter().map(|x| x * 0.5 + 0.1).collect(),
            labels: None,
        },
    ]
}

/// This rank's rows of a batch of `rows`: unequal shares, rank 1 of 3 empty.
fn my_rows(rows: usize, rank: usize, size: usize) -> (usize, usize) {
    let cuts = match size {
        1 => vec![0, rows],
        2 => vec![0, rows / 3, rows],
        _ => {
            let mut cuts = vec![0, rows / 2, rows / 2];
            cuts.extend((3..=size).map(|k| rows / 2 + (rows - rows / 2) * (k - 2) / (size - 2)));
            cuts
        }
    };
    (cuts[rank], cuts[rank + 1])
}

fn agree(world: &MpiCollective) {
    let ctx = context();
    let (rank, size) = (world.rank(), world.size());
    for case in cases() {
        let name = case.spec.name();
        let shape = [case.rows, case.cols];
        let mut whole = Inputs::new(&case.student, &case.teacher, &shape);
        if let Some(l) = &case.labels {
            whole = whole.with_labels(l);
        }
        let want = ctx.evaluate(&case.spec, &whole, true).unwrap();
        let (a, b) = my_rows(case.rows, rank, size);
        let local_shape = [b - a, case.cols];
        let (x, y) = (a * case.cols, b * case.cols);
        let mut local = Inputs::new(&case.student[x..y], &case.teacher[x..y], &local_shape);
        if let Some(l) = &case.labels {
            local = local.with_labels(&l[a..b]);
        }
        let got = ctx
            .evaluate_distributed(&case.spec, &local, world, true)
            .unwrap_or_else(|e| panic!("rank {rank} {name}: {e}"));
        let rel = (f64::from(got.loss) - f64::from(want.loss)).abs() / f64::from(want.loss).abs();
        assert!(
            rel <= 1e-6,
            "rank {rank} {name}: loss {} vs {}",
            got.loss,
            want.loss
        );
        let bits = world.all_gather(&[f64::from(got.loss.to_bits())]).unwrap();
        assert!(
            bits.iter().all(|&b| b == bits[0]),
            "{name}: ranks disagree on the loss"
        );
        let want_grad = &want.grad.unwrap()[x..y];
        let scale = want_grad.iter().fold(1e-30f32, |m, g| m.max(g.abs()));
        for (i, (g, w)) in got.grad.unwrap().iter().zip(want_grad).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * scale,
                "rank {rank} {name}: grad[{i}] {g} vs {w}"
            );
        }
    }
}

fn disagree(world: &MpiCollective) {
    let ctx = context();
    let rank = world.rank();
    let (student, teacher) = synthetic::logit_pair(2, 4, 10, 2.0);
    let shape = [4, 10];
    let inputs = Inputs::new(&student, &teacher, &shape);
    // Rank 2 at another temperature: the same Param error on every rank.
    let t = if rank == 2 { 3.0 } else { 2.0 };
    let err = ctx
        .evaluate_distributed(&LossSpec::Kl(KlParams::new(t)), &inputs, world, true)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Param(m) if m.contains("member 2")),
        "rank {rank}: {err}"
    );
    // Rank 0 with a label outside [0, C): its own error there, a Collective error elsewhere.
    let mut labels = vec![1i64, 2, 3, 4];
    if rank == 0 {
        labels[3] = 10;
    }
    let err = ctx
        .evaluate_distributed(
            &LossSpec::Dkd(DkdParams::default()),
            &inputs.with_labels(&labels),
            world,
            true,
        )
        .unwrap_err();
    match rank {
        0 => assert!(matches!(err, Error::Param(_)), "rank 0: {err}"),
        _ => assert!(matches!(err, Error::Collective(_)), "rank {rank}: {err}"),
    }
    // The group still works after errors.
    let ok = ctx.evaluate_distributed(&LossSpec::Kl(KlParams::new(2.0)), &inputs, world, false);
    assert!(ok.is_ok(), "rank {rank}: {ok:?}");
}
