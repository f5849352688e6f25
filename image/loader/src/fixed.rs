//! A fixed-capacity vector: the loader has no heap, and every table it builds has a bound
//! that is a named constant.

use core::ops::{Deref, DerefMut};

/// The vector is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityExceeded;

/// Up to `N` values of `T`, inline.
#[derive(Clone, Copy)]
pub struct FixedVec<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> FixedVec<T, N> {
    /// An empty vector.
    pub fn new() -> Self {
        FixedVec {
            items: [T::default(); N],
            len: 0,
        }
    }

    /// Appends `value`, or reports that the vector is full.
    pub fn push(&mut self, value: T) -> Result<(), CapacityExceeded> {
        let slot = self.items.get_mut(self.len).ok_or(CapacityExceeded)?;
        *slot = value;
        self.len += 1;
        Ok(())
    }

    /// Removes the element at `index`, shifting the rest down.
    ///
    /// # Panics
    /// If `index >= len`.
    pub fn remove(&mut self, index: usize) -> T {
        assert!(index < self.len, "FixedVec::remove out of bounds");
        let value = self.items[index];
        self.items.copy_within(index + 1..self.len, index);
        self.len -= 1;
        value
    }

    /// Inserts `value` at `index`, shifting the rest up.
    pub fn insert(&mut self, index: usize, value: T) -> Result<(), CapacityExceeded> {
        if self.len == N {
            return Err(CapacityExceeded);
        }
        assert!(index <= self.len, "FixedVec::insert out of bounds");
        self.items.copy_within(index..self.len, index + 1);
        self.items[index] = value;
        self.len += 1;
        Ok(())
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<T: Copy + Default, const N: usize> Default for FixedVec<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default, const N: usize> Deref for FixedVec<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..self.len]
    }
}

impl<T: Copy + Default, const N: usize> DerefMut for FixedVec<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }
}

impl<T: Copy + Default + core::fmt::Debug, const N: usize> core::fmt::Debug for FixedVec<T, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_insert_remove_keep_order_and_capacity() {
        let mut v: FixedVec<u32, 3> = FixedVec::new();
        v.push(1).unwrap();
        v.push(3).unwrap();
        v.insert(1, 2).unwrap();
        assert_eq!(&*v, &[1, 2, 3]);
        assert_eq!(v.push(4), Err(CapacityExceeded));
        assert_eq!(v.insert(0, 0), Err(CapacityExceeded));
        assert_eq!(v.remove(0), 1);
        assert_eq!(&*v, &[2, 3]);
    }
}
