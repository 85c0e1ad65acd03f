//! The agenda's priority queue: a calendar of one-millisecond slots over the next ~65 s, with a
//! heap behind it for what lies further ahead.
//!
//! Why not a `BinaryHeap` alone: the agenda holds thousands of pending events (every user's
//! conversion, every message in flight), and a binary heap pays a dozen sifting levels on each
//! push and pop; in profiles that was the largest cost the lab itself adds per verification.
//! Simulated time only moves forward and events are dense (hundreds per simulated second), so
//! a calendar does better: a push drops the event into the slot of its millisecond, and a pop
//! scans forward from the current slot (an occupancy bitmap skips empty ones) and takes the
//! earliest event of a slot that rarely holds more than two. A radix heap was tried first: with
//! nanosecond keys its items moved about 13 times each and it lost to the binary heap.
//!
//! Events come out in exactly the order of (time, sequence number), as from a binary heap.
//!
//! Times are kept as nanoseconds since the epoch: comparing and bucketing integers is several
//! times cheaper than tokio's `Instant` arithmetic, which would otherwise run on every push, pop
//! and comparison (an `Instant` is converted once on the way in, and back only for `next_due`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use std::time::Duration;

use tokio::time::Instant;

/// Slots in the calendar: 2^16 milliseconds, about 65 s ahead.
const SLOTS: u64 = 1 << 16;
const WORDS: usize = (SLOTS / 64) as usize;

struct Far<T> {
    /// (nanoseconds since the epoch, sequence).
    key: (u64, u64),
    item: T,
}

impl<T> PartialEq for Far<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T> Eq for Far<T> {}

impl<T> PartialOrd for Far<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Far<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

pub(crate) struct Calendar<T> {
    epoch: Instant,
    /// Slot `tick % SLOTS` holds the events of `tick` (milliseconds since the epoch), for ticks
    /// in `[cursor, cursor + SLOTS)`, as (nanoseconds since the epoch, sequence, item).
    slots: Vec<Vec<(u64, u64, T)>>,
    /// Bit `i` of word `i / 64` set: slot `i` is not empty.
    occupied: Vec<u64>,
    /// No event is due before this tick.
    cursor: u64,
    /// Events at or beyond `cursor + SLOTS`.
    far: BinaryHeap<Reverse<Far<T>>>,
    /// The last instant converted to nanoseconds, and its value.
    last: Option<(Instant, u64)>,
}

impl<T> Calendar<T> {
    pub(crate) fn new(epoch: Instant) -> Self {
        Calendar {
            epoch,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            occupied: vec![0; WORDS],
            cursor: 0,
            far: BinaryHeap::new(),
            last: None,
        }
    }

    /// Nanoseconds since the epoch (the last `now` asked about is remembered: the clock pops
    /// several events at one instant).
    fn nanos(&mut self, at: Instant) -> u64 {
        if let Some((t, ns)) = self.last
            && t == at
        {
            return ns;
        }
        let ns = at.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.last = Some((at, ns));
        ns
    }

    fn tick(ns: u64) -> u64 {
        ns / 1_000_000
    }

    fn place(&mut self, tick: u64, entry: (u64, u64, T)) {
        let slot = (tick % SLOTS) as usize;
        self.slots[slot].push(entry);
        self.occupied[slot / 64] |= 1 << (slot % 64);
    }

    /// Schedules `item` at `at`, ordered after everything already scheduled for the same time
    /// (`seq` grows with every push). `at` must not be before the last time popped up to.
    pub(crate) fn push(&mut self, at: Instant, seq: u64, item: T) {
        let ns = self.nanos(at);
        let tick = Self::tick(ns).max(self.cursor);
        if tick < self.cursor + SLOTS {
            self.place(tick, (ns, seq, item));
        } else {
            self.far.push(Reverse(Far {
                key: (ns, seq),
                item,
            }));
        }
    }

    /// The first occupied tick in `[from, to]`, all within the calendar's window.
    fn next_occupied(&self, from: u64, to: u64) -> Option<u64> {
        let mut tick = from;
        while tick <= to {
            let slot = tick % SLOTS;
            let word = self.occupied[(slot / 64) as usize] >> (slot % 64);
            if word != 0 {
                let found = tick + u64::from(word.trailing_zeros());
                return (found <= to).then_some(found);
            }
            // Nothing in the rest of this word.
            tick += 64 - slot % 64;
        }
        None
    }

    /// Moves the cursor to `tick` and brings the events now within the window in from afar.
    fn advance(&mut self, tick: u64) {
        self.cursor = tick;
        while let Some(Reverse(far)) = self.far.peek() {
            let t = Self::tick(far.key.0);
            if t >= self.cursor + SLOTS {
                break;
            }
            let Reverse(far) = self.far.pop().expect("peeked");
            // After a long idle gap an event from afar may already be due: it joins the
            // cursor's slot, where it is still found in (time, sequence) order.
            self.place(t.max(self.cursor), (far.key.0, far.key.1, far.item));
        }
    }

    /// The index in slot `slot` of its earliest event.
    fn earliest_in(&self, slot: usize) -> usize {
        let events = &self.slots[slot];
        (1..events.len()).fold(0, |best, i| {
            if (events[i].0, events[i].1) < (events[best].0, events[best].1) {
                i
            } else {
                best
            }
        })
    }

    /// When the earliest event is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let ns = match self.next_occupied(self.cursor, self.cursor + SLOTS - 1) {
            Some(tick) => {
                let slot = (tick % SLOTS) as usize;
                self.slots[slot][self.earliest_in(slot)].0
            }
            None => self.far.peek().map(|Reverse(f)| f.key.0)?,
        };
        Some(self.epoch + Duration::from_nanos(ns))
    }

    /// Removes and returns the earliest event if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        let now_ns = self.nanos(now);
        let now_tick = Self::tick(now_ns);
        if now_tick < self.cursor {
            return None;
        }
        let last = now_tick.min(self.cursor + SLOTS - 1);
        let tick = match self.next_occupied(self.cursor, last) {
            Some(tick) => tick,
            None => {
                // Nothing in the window up to now: the window moves on, and events from afar
                // that are now within it come in (and may be due).
                self.advance(now_tick);
                self.next_occupied(now_tick, now_tick)?
            }
        };
        if tick != self.cursor {
            self.advance(tick);
        }
        let slot = (tick % SLOTS) as usize;
        let i = self.earliest_in(slot);
        if self.slots[slot][i].0 > now_ns {
            return None;
        }
        let (_, _, item) = self.slots[slot].swap_remove(i);
        if self.slots[slot].is_empty() {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;

    /// Random schedules (near, far beyond the window, same-millisecond ties, long idle gaps)
    /// interleaved with pops at advancing times give exactly a binary heap's order.
    #[tokio::test(start_paused = true)]
    async fn pops_in_the_order_of_a_binary_heap() {
        let epoch = Instant::now();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut calendar = Calendar::new(epoch);
        let mut reference = BinaryHeap::new();
        let mut now = epoch;
        let mut seq = 0u64;
        for step in 0..60_000u64 {
            if rng.random_bool(0.5) {
                let ahead = match rng.random_range(0..4) {
                    0 => Duration::from_micros(rng.random_range(0..3_000)),
                    1 => Duration::from_millis(rng.random_range(0..5_000)),
                    2 => Duration::from_secs(rng.random_range(60..200)),
                    _ => Duration::ZERO,
                };
                seq += 1;
                calendar.push(now + ahead, seq, seq);
                reference.push(Reverse((now + ahead, seq)));
            } else {
                // Mostly small steps, sometimes a long idle gap.
                now += if step % 997 == 0 {
                    Duration::from_secs(rng.random_range(0..300))
                } else {
                    Duration::from_micros(rng.random_range(0..2_000))
                };
                let expected_next = reference.peek().map(|Reverse((at, _))| *at);
                assert_eq!(calendar.next_due(), expected_next);
                loop {
                    let due = match reference.peek() {
                        Some(Reverse((at, s))) if *at <= now => Some(*s),
                        _ => None,
                    };
                    assert_eq!(calendar.pop_due(now), due);
                    match due {
                        Some(_) => {
                            reference.pop();
                        }
                        None => break,
                    }
                }
            }
        }
    }
}
