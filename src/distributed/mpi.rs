//! [`MpiCollective`]: the members are the processes of an MPI job (`mpirun`, Slurm's `srun`),
//! through the `mpi` crate (rsmpi) on the system's MPI library. Feature `mpi`.

use std::sync::Once;
use std::time::{Duration, Instant};

use mpi::datatype::Equivalence;
use mpi::environment::{Threading, Universe};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;

use super::collective::Collective;
use crate::error::{Error, Result};

/// The exit code of a job aborted by a panicking rank.
pub const PANIC_EXIT_CODE: i32 = 101;
/// The exit code of a job aborted because a collective waited past its timeout.
pub const TIMEOUT_EXIT_CODE: i32 = 110;

/// The processes of `MPI_COMM_WORLD`, one member per rank.
///
/// MPI cannot cancel a collective: a rank that never joins one leaves the others waiting. So
/// [`MpiCollective::world`] installs a panic hook that aborts the whole job (`MPI_Abort`,
/// exit code [`PANIC_EXIT_CODE`]) after the usual panic message, and
/// [`MpiCollective::with_timeout`] aborts it when a collective waits too long. A rank that
/// exits without finalising MPI (a `process::exit`, a crash) makes `mpirun` and `srun` end the
/// job. A rank that returns normally while the others still wait in a collective blocks in
/// `MPI_Finalize` with them: give the collectives a timeout where that can happen.
///
/// The communicator stays on the thread that created it (it is not `Send`).
pub struct MpiCollective {
    world: SimpleCommunicator,
    /// This rank's index among the ranks of its machine.
    local_rank: usize,
    timeout: Option<Duration>,
    /// Finalises MPI when dropped (after the communicator).
    _universe: Universe,
}

impl MpiCollective {
    /// Initialises MPI (once per process) and returns the world's member for this rank. A
    /// program started without `mpirun` is a world of one. An `Err` if MPI was already
    /// initialised (create one `MpiCollective` and share it).
    pub fn world() -> Result<Self> {
        let (universe, _threading) = mpi::initialize_with_threading(Threading::Multiple)
            .ok_or_else(|| {
                Error::Collective(
                    "MPI is already initialised in this process: create one MpiCollective::world() and share it"
                        .into(),
                )
            })?;
        abort_job_on_panic();
        let world = universe.world();
        // The ranks sharing this machine's memory, ordered by world rank.
        let local_rank = world.split_shared(world.rank()).rank() as usize;
        Ok(Self {
            world,
            local_rank,
            timeout: None,
            _universe: universe,
        })
    }

    /// Aborts the job (every rank, exit code [`TIMEOUT_EXIT_CODE`]) when a collective waits
    /// longer than `timeout` for the other ranks: MPI cannot return from a collective that a
    /// rank never joins, so ending the job is the only way not to hang.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// This rank's index among the ranks on its machine: with
    /// `GpuContext::new_for_rank(choice, local_rank)`, one GPU per rank.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    /// The world communicator, for the application's own collectives (an all-reduce of its
    /// parameter gradients, say).
    pub fn communicator(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// `MPI_Allgather` of equal-length slices, waiting at most the timeout.
    fn gather_into<T: Equivalence>(&self, local: &[T], out: &mut [T]) {
        let Some(timeout) = self.timeout else {
            self.world.all_gather_into(local, out);
            return;
        };
        mpi::request::scope(|scope| {
            let mut request = self.world.immediate_all_gather_into(scope, local, out);
            let start = Instant::now();
            loop {
                match request.test() {
                    Ok(_) => return,
                    Err(pending) => request = pending,
                }
                if start.elapsed() > timeout {
                    eprintln!(
                        "wgpu-distill: rank {} waited {timeout:?} in a collective; aborting the job",
                        self.world.rank()
                    );
                    self.world.abort(TIMEOUT_EXIT_CODE);
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        });
    }
}

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_gather(&self, local: &[f64]) -> Result<Vec<f64>> {
        // The lengths first: MPI_Allgather with unequal counts is an MPI error that kills the job.
        let size = self.size();
        let mut lengths = vec![0u64; size];
        self.gather_into(&[local.len() as u64], &mut lengths);
        if let Some(other) = lengths.iter().position(|&n| n != lengths[0]) {
            return Err(Error::Collective(format!(
                "all_gather needs the same length on every member: rank {other} gave {}, rank 0 gave {}",
                lengths[other], lengths[0]
            )));
        }
        let mut gathered = vec![0.0; local.len() * size];
        self.gather_into(local, &mut gathered);
        Ok(gathered)
    }
}

/// After the usual panic message, `MPI_Abort` on the world: the other ranks would otherwise
/// wait for the panicked one in their next collective forever.
fn abort_job_on_panic() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
                SimpleCommunicator::world().abort(PANIC_EXIT_CODE);
            }
        }));
    });
}
