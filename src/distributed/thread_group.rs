//! [`ThreadGroup`]: the members are threads of one process (one per device, or per shard of a
//! batch on one device), gathering through a mutex and a condition variable.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::collective::Collective;
use crate::error::{Error, Result};

/// Threads of one process that together hold one batch: one handle per member, each moved to
/// its own thread. `ThreadGroup::new(3)` gives the handles of ranks 0, 1 and 2.
///
/// Every member must make the same sequence of collective calls. A member whose handle is
/// dropped (its thread returned or panicked) leaves: a collective it has not joined fails on
/// every other member with [`Error::Collective`] instead of waiting forever; so does every
/// collective after a member gave up waiting ([`ThreadGroup::with_timeout`]).
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
    /// How many collectives this member has made: the next one's round.
    round: Cell<u64>,
    timeout: Option<Duration>,
}

struct Shared {
    size: usize,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Contributions to the rounds not every member has joined yet.
    pending: HashMap<u64, Vec<Option<Vec<f64>>>>,
    /// Finished rounds, until every member still present has taken its copy.
    done: HashMap<u64, Finished>,
    /// Members whose handle was dropped.
    left: Vec<bool>,
    /// Set when a member stopped waiting: the group is unusable from then on.
    broken: Option<String>,
}

struct Finished {
    gathered: Result<Arc<Vec<f64>>>,
    taken: Vec<bool>,
}

impl ThreadGroup {
    /// The `size` members' handles, in rank order (`size` ≥ 1).
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        let shared = Arc::new(Shared {
            size,
            state: Mutex::new(State {
                left: vec![false; size],
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: shared.clone(),
                round: Cell::new(0),
                timeout: None,
            })
            .collect()
    }

    /// Gives up a collective after waiting `timeout` for the other members (an
    /// [`Error::Collective`]); the group is then broken for every member.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking member leaves the state consistent (every update is one assignment).
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_gather(&self, local: &[f64]) -> Result<Vec<f64>> {
        let round = self.round.get();
        self.round.set(round + 1);
        let size = self.shared.size;
        let mut state = self.lock();
        if let Some(why) = &state.broken {
            return Err(Error::Collective(why.clone()));
        }
        let slots = state
            .pending
            .entry(round)
            .or_insert_with(|| vec![None; size]);
        slots[self.rank] = Some(local.to_vec());
        if slots.iter().all(Option::is_some) {
            let slots = state.pending.remove(&round).unwrap_or_default();
            let gathered = concatenate(slots);
            let taken = state.left.clone();
            state.done.insert(round, Finished { gathered, taken });
            self.shared.changed.notify_all();
        }
        let start = Instant::now();
        loop {
            if let Some(finished) = state.done.get_mut(&round) {
                finished.taken[self.rank] = true;
                let gathered = finished.gathered.clone();
                if finished.taken.iter().all(|t| *t) {
                    state.done.remove(&round);
                }
                return gathered.map(|g| g.to_vec());
            }
            if let Some(why) = &state.broken {
                return Err(Error::Collective(why.clone()));
            }
            let joined = state.pending.get(&round);
            let absent = |m: usize| joined.is_none_or(|slots| slots[m].is_none());
            if let Some(gone) = (0..size).find(|&m| state.left[m] && absent(m)) {
                return Err(Error::Collective(format!(
                    "member {gone} of {size} left the group before collective {round}"
                )));
            }
            state = match self.timeout {
                None => self
                    .shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(timeout) => {
                    let left = timeout.saturating_sub(start.elapsed());
                    if left.is_zero() {
                        let missing: Vec<usize> = (0..size).filter(|&m| absent(m)).collect();
                        let why = format!(
                            "member {} waited {timeout:?} in collective {round} for members {missing:?}",
                            self.rank
                        );
                        state.broken = Some(why.clone());
                        self.shared.changed.notify_all();
                        return Err(Error::Collective(why));
                    }
                    self.shared
                        .changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

impl Drop for ThreadGroup {
    fn drop(&mut self) {
        let rank = self.rank;
        let mut state = self.lock();
        state.left[rank] = true;
        for finished in state.done.values_mut() {
            finished.taken[rank] = true;
        }
        state.done.retain(|_, f| !f.taken.iter().all(|t| *t));
        self.shared.changed.notify_all();
    }
}

/// The members' contributions in rank order, or why they cannot be concatenated.
fn concatenate(slots: Vec<Option<Vec<f64>>>) -> Result<Arc<Vec<f64>>> {
    let lengths: Vec<usize> = slots
        .iter()
        .map(|s| s.as_ref().map_or(0, Vec::len))
        .collect();
    if let Some(other) = lengths.iter().position(|&n| n != lengths[0]) {
        return Err(Error::Collective(format!(
            "all_gather needs the same length on every member: member {other} gave {}, member 0 gave {}",
            lengths[other], lengths[0]
        )));
    }
    Ok(Arc::new(slots.into_iter().flatten().flatten().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_gather_in_rank_order_round_after_round() {
        let results: Vec<Vec<Vec<f64>>> = std::thread::scope(|s| {
            let handles: Vec<_> = ThreadGroup::new(3)
                .into_iter()
                .map(|g| {
                    s.spawn(move || {
                        (0..20)
                            .map(|round| {
                                let r = g.rank() as f64;
                                g.all_gather(&[r, f64::from(round)]).unwrap()
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for rounds in &results {
            for (round, gathered) in rounds.iter().enumerate() {
                let r = round as f64;
                assert_eq!(gathered, &vec![0.0, r, 1.0, r, 2.0, r]);
            }
        }
    }

    #[test]
    fn a_member_that_leaves_fails_the_others_and_lengths_must_agree() {
        let mut group = ThreadGroup::new(2);
        let second = group.pop().unwrap();
        let first = group.pop().unwrap();
        let lengths = std::thread::scope(|s| {
            let other = s.spawn(move || {
                let err = second.all_gather(&[1.0, 2.0]).unwrap_err();
                drop(second);
                err
            });
            let mine = first.all_gather(&[1.0]).unwrap_err();
            (mine, other.join().unwrap(), first)
        });
        let (mine, theirs, first) = lengths;
        assert_eq!(mine, theirs);
        assert!(mine.to_string().contains("same length"), "{mine}");
        let err = first.all_gather(&[1.0]).unwrap_err();
        assert!(err.to_string().contains("member 1 of 2 left"), "{err}");
    }

    #[test]
    fn a_timeout_breaks_the_group() {
        let mut group = ThreadGroup::new(2);
        let _silent = group.pop().unwrap();
        let first = group.pop().unwrap().with_timeout(Duration::from_millis(50));
        let err = first.all_gather(&[1.0]).unwrap_err();
        assert!(err.to_string().contains("for members [1]"), "{err}");
        assert!(first.all_gather(&[1.0]).is_err());
    }
}
