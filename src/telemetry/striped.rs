//! Counters that many threads add to at once without sharing a cache line.
//!
//! A single `AtomicU64` counted by every request is written by every core in turn, and
//! each write first has to pull the cache line away from the core that wrote it last.
//! On the token path that cost more than the counting itself, and far more when the
//! virtual CPUs sit on different dies. Here each thread adds to its own stripe (a copy of
//! the whole set, on cache lines of its own); a read sums the stripes. Reads are for
//! `/metrics` and tests, so they can afford the sum.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Counters per cache-line pair (128 bytes: adjacent-line prefetchers move lines in pairs).
const PER_BLOCK: usize = 16;

#[repr(align(128))]
struct Block([AtomicU64; PER_BLOCK]);

impl Block {
    fn new() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// How many stripes every set has: four per core, at least 8, at most 256, a power of two
/// (so a thread's stripe is a mask, not a division). More stripes than cores, because
/// threads other than the runtime's workers count too (start-up, blocking tasks), and two
/// busy workers must not land on one stripe.
fn stripes() -> usize {
    static STRIPES: OnceLock<usize> = OnceLock::new();
    *STRIPES.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores * 4).clamp(8, 256).next_power_of_two()
    })
}

/// This thread's stripe: threads take the next one in turn as they first count, so
/// threads that count share a stripe only when more of them than stripes have counted.
fn this_threads_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    STRIPE.with(|stripe| *stripe) & (stripes() - 1)
}

/// A fixed number of counters, each striped across threads.
pub(crate) struct StripedCounters {
    len: usize,
    blocks_per_stripe: usize,
    blocks: Box<[Block]>,
}

impl std::fmt::Debug for StripedCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripedCounters")
            .field("len", &self.len)
            .finish()
    }
}

impl StripedCounters {
    pub(crate) fn new(len: usize) -> Self {
        let blocks_per_stripe = len.div_ceil(PER_BLOCK).max(1);
        Self {
            len,
            blocks_per_stripe,
            blocks: (0..blocks_per_stripe * stripes())
                .map(|_| Block::new())
                .collect(),
        }
    }

    fn cell(&self, stripe: usize, index: usize) -> &AtomicU64 {
        assert!(index < self.len, "counter {index} of {}", self.len);
        &self.blocks[stripe * self.blocks_per_stripe + index / PER_BLOCK].0[index % PER_BLOCK]
    }

    pub(crate) fn add(&self, index: usize, amount: u64) {
        self.cell(this_threads_stripe(), index)
            .fetch_add(amount, Ordering::Relaxed);
    }

    pub(crate) fn increment(&self, index: usize) {
        self.add(index, 1);
    }

    /// The total over every thread's stripe.
    pub(crate) fn get(&self, index: usize) -> u64 {
        (0..stripes())
            .map(|stripe| self.cell(stripe, index).load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = Arc::new(StripedCounters::new(20));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counters = counters.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counters.increment(17);
                    }
                    counters.add(3, 5);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(counters.get(17), 8000);
        assert_eq!(counters.get(3), 40);
        assert_eq!(counters.get(0), 0);
    }

    #[test]
    fn stripes_do_not_share_cache_lines() {
        assert_eq!(std::mem::align_of::<Block>(), 128);
        assert_eq!(std::mem::size_of::<Block>(), 128);
    }
}
