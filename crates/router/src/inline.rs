//! [`InlineVec`]: a short list kept inline, on the heap only once it outgrows its inline room.
//!
//! A verification tries a few routes out of a group of a few. Keeping those lists (the routes
//! tried, the candidates of a decision) inside the verification's own state rather than on the
//! heap takes allocations off every verification, which are a measurable share of its cost in
//! a simulation. Safe code only: the inline slots start filled with a given value, so the type
//! is meant for small `Copy` items.

use std::ops::{Deref, DerefMut};

pub(crate) struct InlineVec<T: Copy, const N: usize> {
    len: usize,
    inline: [T; N],
    /// Every item, once there are more than `N` (its capacity is kept across `clear`).
    spilled: Vec<T>,
}

impl<T: Copy, const N: usize> InlineVec<T, N> {
    /// An empty list with room for `capacity` items (allocated only if more than `N`);
    /// `filler` only occupies the unused inline slots.
    pub(crate) fn with_capacity(filler: T, capacity: usize) -> Self {
        InlineVec {
            len: 0,
            inline: [filler; N],
            spilled: if capacity > N {
                Vec::with_capacity(capacity)
            } else {
                Vec::new()
            },
        }
    }

    /// Makes room for `total` items in all (allocating only if that is more than `N`).
    pub(crate) fn reserve_total(&mut self, total: usize) {
        if total > N {
            self.spilled
                .reserve(total.saturating_sub(self.spilled.len()));
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.len < N {
            self.inline[self.len] = item;
        } else {
            if self.len == N {
                self.spilled.clear();
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(item);
        }
        self.len += 1;
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

impl<T: Copy, const N: usize> Deref for InlineVec<T, N> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        if self.len <= N {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

impl<T: Copy, const N: usize> DerefMut for InlineVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        if self.len <= N {
            &mut self.inline[..self.len]
        } else {
            &mut self.spilled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_inline_and_after_spilling() {
        let mut v: InlineVec<u32, 3> = InlineVec::with_capacity(0, 0);
        assert!(v.is_empty());
        for round in 0..3 {
            v.clear();
            for i in 0..(2 + 3 * round) {
                v.push(i);
                let expect: Vec<u32> = (0..=i).collect();
                assert_eq!(&v[..], &expect[..]);
            }
        }
        v[1] = 42;
        assert_eq!(v[1], 42);
        v.clear();
        v.push(7);
        assert_eq!(&v[..], &[7]);
        let mut w: InlineVec<u32, 2> = InlineVec::with_capacity(0, 10);
        w.extend_check(0..10);
        let mut x: InlineVec<u32, 2> = InlineVec::with_capacity(0, 0);
        x.reserve_total(7);
        x.extend_check(0..7);
    }

    impl<const N: usize> InlineVec<u32, N> {
        fn extend_check(&mut self, items: std::ops::Range<u32>) {
            let expect: Vec<u32> = items.clone().collect();
            for i in items {
                self.push(i);
            }
            assert_eq!(&self[..], &expect[..]);
        }
    }
}
