//! The kernel's one intrusive queue: a doubly linked list threaded through a pair of link
//! fields inside each node, so that queueing never allocates.
//!
//! The kernel queues threads (TCBs) in three kinds of queue at once, each through its own
//! pair of links: an endpoint's or notification's waiters, a ready queue, and the timeout
//! list. [`Queue`] is the same for all three; [`Links`] says which fields a queue uses.
//!
//! Nodes are reached only through raw pointers, and each link is read or written through
//! a raw pointer to its field (the [`Links`] implementation projects with `addr_of_mut!`):
//! no operation makes a reference to a node, so a node's other fields (and its other
//! queues) may be in use elsewhere meanwhile. This crate is tested on the host under Miri
//! (`cargo xtask miri`), which checks exactly that.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use core::marker::PhantomData;
use core::ptr::null_mut;

/// Which pair of link fields of a node `N` a queue threads through.
///
/// # Safety
/// `links` must return pointers to two distinct `*mut N` fields of `*node`, made without
/// creating a reference to the node (`addr_of_mut!((*node).field)`), and different
/// implementations used on the same node type at the same time must name different fields.
pub unsafe trait Links<N> {
    /// Pointers to `node`'s (next, previous) link fields.
    ///
    /// # Safety
    /// `node` must point at a live `N`.
    unsafe fn links(node: *mut N) -> (*mut *mut N, *mut *mut N);
}

/// A queue of nodes linked through `L`'s fields.
///
/// Invariant (kept by every operation's safety contract): every member is a live node
/// whose `L` links point at its neighbours, null at the ends; `head` and `tail` are null
/// exactly when the queue is empty.
pub struct Queue<N, L> {
    /// First node (null when empty).
    pub head: *mut N,
    /// Last node (null when empty).
    pub tail: *mut N,
    links: PhantomData<L>,
}

impl<N, L> Clone for Queue<N, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<N, L> Copy for Queue<N, L> {}

impl<N, L: Links<N>> Queue<N, L> {
    /// The empty queue.
    pub const EMPTY: Queue<N, L> = Queue::from_ends(null_mut(), null_mut());

    /// The queue with these ends (as an object keeps them in its words).
    pub const fn from_ends(head: *mut N, tail: *mut N) -> Queue<N, L> {
        Queue {
            head,
            tail,
            links: PhantomData,
        }
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// The node after `node` in its queue (null at the end).
    ///
    /// # Safety
    /// `node` must be a member of a queue linked through `L`.
    pub unsafe fn next(node: *mut N) -> *mut N {
        // SAFETY: forwarded from the caller; a place read of the link field.
        unsafe { *L::links(node).0 }
    }

    /// Appends `node`.
    ///
    /// # Safety
    /// `node` must be a live node that is in no queue linked through `L`.
    pub unsafe fn push(&mut self, node: *mut N) {
        // SAFETY: forwarded from the caller.
        unsafe { self.insert_before(null_mut(), node) }
    }

    /// Inserts `node` before the member `next` (at the end when `next` is null).
    ///
    /// # Safety
    /// `node` must be a live node that is in no queue linked through `L`; `next` must be
    /// null or a member of this queue.
    pub unsafe fn insert_before(&mut self, next: *mut N, node: *mut N) {
        // SAFETY: forwarded from the caller; members are live (the type's invariant), and
        // every access is a place access through a link-field pointer.
        unsafe {
            let prev = if next.is_null() {
                self.tail
            } else {
                *L::links(next).1
            };
            let (node_next, node_prev) = L::links(node);
            *node_next = next;
            *node_prev = prev;
            if prev.is_null() {
                self.head = node;
            } else {
                *L::links(prev).0 = node;
            }
            if next.is_null() {
                self.tail = node;
            } else {
                *L::links(next).1 = node;
            }
        }
    }

    /// Removes the head, which must exist, clearing its links, and returns it: what
    /// [`Self::remove`] does for the head, which has no predecessor, so only its successor's
    /// back link and its own forward link change (the IPC fast path takes a waiting
    /// receiver this way).
    ///
    /// # Safety
    /// The queue must not be empty, and its members must be valid nodes.
    #[inline(always)]
    pub unsafe fn pop_head(&mut self) -> *mut N {
        let node = self.head;
        // SAFETY: the head is a valid member (the caller's contract); its links and its
        // successor's are reached through raw pointers only.
        unsafe {
            let node_next = L::links(node).0;
            let next = *node_next;
            self.head = next;
            if next.is_null() {
                self.tail = null_mut();
            } else {
                *L::links(next).1 = null_mut();
            }
            // The head's back link is already null (every operation keeps it so), so only
            // the forward link is cleared.
            *node_next = null_mut();
        }
        node
    }

    /// Removes the member `node`, clearing its links.
    ///
    /// # Safety
    /// `node` must be a member of this queue.
    pub unsafe fn remove(&mut self, node: *mut N) {
        // SAFETY: forwarded from the caller; its neighbours are live members.
        unsafe {
            let (node_next, node_prev) = L::links(node);
            let (prev, next) = (*node_prev, *node_next);
            if prev.is_null() {
                self.head = next;
            } else {
                *L::links(prev).0 = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                *L::links(next).1 = prev;
            }
            *node_next = null_mut();
            *node_prev = null_mut();
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::{Links, Queue};
    use core::ptr::{addr_of_mut, null_mut};
    use std::vec::Vec;

    /// A node with two pairs of links (as a TCB is in a ready queue and the timeout list
    /// at once) and a payload.
    struct Node {
        value: u64,
        a_next: *mut Node,
        a_prev: *mut Node,
        b_next: *mut Node,
        b_prev: *mut Node,
    }

    struct A;
    struct B;

    // SAFETY: distinct fields, projected without a reference.
    unsafe impl Links<Node> for A {
        unsafe fn links(node: *mut Node) -> (*mut *mut Node, *mut *mut Node) {
            // SAFETY: forwarded from the caller.
            unsafe { (addr_of_mut!((*node).a_next), addr_of_mut!((*node).a_prev)) }
        }
    }

    // SAFETY: as above, the other pair.
    unsafe impl Links<Node> for B {
        unsafe fn links(node: *mut Node) -> (*mut *mut Node, *mut *mut Node) {
            // SAFETY: forwarded from the caller.
            unsafe { (addr_of_mut!((*node).b_next), addr_of_mut!((*node).b_prev)) }
        }
    }

    /// `count` nodes behind raw pointers (freed by [`free`]).
    fn nodes(count: u64) -> Vec<*mut Node> {
        (0..count)
            .map(|value| {
                std::boxed::Box::into_raw(std::boxed::Box::new(Node {
                    value,
                    a_next: null_mut(),
                    a_prev: null_mut(),
                    b_next: null_mut(),
                    b_prev: null_mut(),
                }))
            })
            .collect()
    }

    fn free(nodes: Vec<*mut Node>) {
        for node in nodes {
            // SAFETY: made by `Box::into_raw` in `nodes`, freed once.
            drop(unsafe { std::boxed::Box::from_raw(node) });
        }
    }

    /// The values from head to tail, checking every back link on the way.
    fn values<L: Links<Node>>(q: &Queue<Node, L>) -> Vec<u64> {
        let mut out = Vec::new();
        let mut prev = null_mut();
        let mut node = q.head;
        while !node.is_null() {
            // SAFETY: members are live nodes.
            unsafe {
                assert_eq!(*L::links(node).1, prev, "back link of {}", (*node).value);
                out.push((*node).value);
                prev = node;
                node = Queue::<Node, L>::next(node);
            }
        }
        assert_eq!(q.tail, prev, "tail");
        out
    }

    #[test]
    fn push_appends_in_order_and_remove_unlinks_head_middle_and_tail() {
        let n = nodes(5);
        let mut q: Queue<Node, A> = Queue::EMPTY;
        assert!(q.is_empty());
        for &node in &n {
            // SAFETY: live nodes in no A-queue.
            unsafe { q.push(node) };
        }
        assert_eq!(values(&q), [0, 1, 2, 3, 4]);
        // SAFETY: members.
        unsafe {
            q.remove(n[2]);
            q.remove(n[0]);
            q.remove(n[4]);
        }
        assert_eq!(values(&q), [1, 3]);
        // SAFETY: a removed node's links are cleared.
        unsafe { assert!((*n[2]).a_next.is_null() && (*n[2]).a_prev.is_null()) };
        // SAFETY: members.
        unsafe {
            q.remove(n[1]);
            q.remove(n[3]);
        }
        assert!(q.is_empty() && q.tail.is_null());
        free(n);
    }

    #[test]
    fn insert_before_keeps_a_sorted_list_sorted() {
        let n = nodes(6);
        let mut q: Queue<Node, A> = Queue::EMPTY;
        // Insert 3, 0, 5, 1, 4, 2 in order of value, as the timeout list inserts by
        // deadline: before the first node with a larger value.
        for i in [3usize, 0, 5, 1, 4, 2] {
            let mut next = q.head;
            // SAFETY: members are live.
            while !next.is_null() && unsafe { (*next).value } <= i as u64 {
                // SAFETY: a member.
                next = unsafe { Queue::<Node, A>::next(next) };
            }
            // SAFETY: `n[i]` is in no A-queue; `next` is null or a member.
            unsafe { q.insert_before(next, n[i]) };
        }
        assert_eq!(values(&q), [0, 1, 2, 3, 4, 5]);
        free(n);
    }

    #[test]
    fn pop_head_takes_members_in_order_and_leaves_an_empty_queue_with_no_tail() {
        let n = nodes(3);
        let mut q: Queue<Node, A> = Queue::EMPTY;
        for &node in &n {
            unsafe { q.push(node) };
        }
        let first = unsafe { q.pop_head() };
        assert_eq!(first, n[0]);
        unsafe { assert!((*first).a_next.is_null() && (*first).a_prev.is_null()) };
        assert_eq!(values(&q), [1, 2]);
        unsafe { q.push(first) };
        assert_eq!(values(&q), [1, 2, 0]);
        let taken: Vec<u64> = (0..3).map(|_| unsafe { (*q.pop_head()).value }).collect();
        assert_eq!(taken, [1, 2, 0]);
        assert!(q.is_empty() && q.tail.is_null());
        unsafe { q.push(n[2]) };
        assert_eq!(values(&q), [2]);
        free(n);
    }

    #[test]
    fn a_node_in_two_queues_through_different_links_keeps_both_intact() {
        let n = nodes(4);
        let mut a: Queue<Node, A> = Queue::EMPTY;
        let mut b: Queue<Node, B> = Queue::EMPTY;
        for &node in &n {
            // SAFETY: live nodes in no queue of either kind.
            unsafe {
                a.push(node);
                b.insert_before(b.head, node);
            }
        }
        assert_eq!(values(&a), [0, 1, 2, 3]);
        assert_eq!(values(&b), [3, 2, 1, 0]);
        // Changing a node's payload and its A links leaves its B links alone.
        // SAFETY: members; the payload is written through the raw pointer.
        let second = n[1];
        unsafe {
            (*second).value = 10;
            a.remove(second);
        }
        assert_eq!(values(&a), [0, 2, 3]);
        assert_eq!(values(&b), [3, 2, 10, 0]);
        free(n);
    }

    #[test]
    fn a_copied_queue_writes_back_through_from_ends() {
        // Endpoints and notifications keep a queue's ends in their own words, take a copy
        // to change it, and store the ends back.
        let n = nodes(2);
        let (mut head, mut tail) = (null_mut(), null_mut());
        for &node in &n {
            let mut q: Queue<Node, A> = Queue::from_ends(head, tail);
            // SAFETY: live nodes in no A-queue.
            unsafe { q.push(node) };
            (head, tail) = (q.head, q.tail);
        }
        assert_eq!(values(&Queue::<Node, A>::from_ends(head, tail)), [0, 1]);
        free(n);
    }
}
