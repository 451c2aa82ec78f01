//! What views read: one entry per request, `Loading`, `Ready` or `Failed`.
//!
//! Entries are filled by answers from the worker ([`super::worker`]); views never wait for them.
//!
//! Each entry remembers the frame it was last read in ([`Cache::get`]); the app advances the frame
//! ([`Cache::tick`]) and drops values no view read lately once their size passes a budget
//! ([`Cache::evict_unused`]), so memory follows what is shown.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The state of one cached value.
#[derive(Debug)]
pub enum Entry<T> {
    /// Requested; the answer has not arrived yet.
    Loading,
    /// The value.
    Ready(Arc<T>),
    /// The request failed; the message says why.
    Failed(String),
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        match self {
            Entry::Loading => Entry::Loading,
            Entry::Ready(v) => Entry::Ready(Arc::clone(v)),
            Entry::Failed(e) => Entry::Failed(e.clone()),
        }
    }
}

impl<T> Entry<T> {
    /// The value, when ready.
    pub fn ready(&self) -> Option<&Arc<T>> {
        match self {
            Entry::Ready(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the answer is still awaited.
    pub fn is_loading(&self) -> bool {
        matches!(self, Entry::Loading)
    }
}

/// A map of entries keyed by request, with a bound on how many values it keeps.
#[derive(Debug)]
pub struct Cache<K, T> {
    /// Entries with the frame they were last read in (atomic: reading takes `&self`).
    entries: HashMap<K, (Entry<T>, AtomicU64)>,
    capacity: usize,
    /// The current frame.
    clock: u64,
}

impl<K: Eq + Hash + Clone, T> Cache<K, T> {
    /// An empty cache keeping at most `capacity` entries (older ready entries are dropped first).
    pub fn new(capacity: usize) -> Self {
        Cache {
            entries: HashMap::new(),
            capacity,
            clock: 0,
        }
    }

    /// The entry for `key`, if it was ever requested; marks it as used in this frame.
    pub fn get(&self, key: &K) -> Option<&Entry<T>> {
        let (e, used) = self.entries.get(key)?;
        used.store(self.clock, Ordering::Relaxed);
        Some(e)
    }

    /// The entry for `key` without marking it as used (bookkeeping, not views).
    pub fn peek(&self, key: &K) -> Option<&Entry<T>> {
        self.entries.get(key).map(|(e, _)| e)
    }

    /// The ready value of `key`, to change in place (`Arc::make_mut`).
    pub fn ready_mut(&mut self, key: &K) -> Option<&mut Arc<T>> {
        match self.entries.get_mut(key) {
            Some((Entry::Ready(v), _)) => Some(v),
            _ => None,
        }
    }

    /// Every entry (not marked as used).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Entry<T>)> {
        self.entries.iter().map(|(k, (e, _))| (k, e))
    }

    /// Starts a new frame: what is read from now on is used in it.
    pub fn tick(&mut self) {
        self.clock += 1;
    }

    /// When the ready values weigh more than `budget` (by `weight`, e.g. bytes), drops those
    /// read longest ago until they fit, never one read in the current frame (it is shown) nor
    /// a loading one (its answer is awaited). Returns the number of entries dropped.
    pub fn evict_unused(&mut self, budget: usize, weight: impl Fn(&T) -> usize) -> usize {
        let mut total: usize = self
            .entries
            .values()
            .filter_map(|(e, _)| e.ready().map(|v| weight(v)))
            .sum();
        if total <= budget {
            return 0;
        }
        let mut old: Vec<(u64, usize, K)> = self
            .entries
            .iter()
            .filter_map(|(k, (e, used))| {
                let used = used.load(Ordering::Relaxed);
                let v = e.ready()?;
                (used < self.clock).then(|| (used, weight(v), k.clone()))
            })
            .collect();
        old.sort_by_key(|(used, w, _)| (*used, std::cmp::Reverse(*w)));
        let mut dropped = 0;
        for (_, w, k) in old {
            if total <= budget {
                break;
            }
            self.entries.remove(&k);
            total = total.saturating_sub(w);
            dropped += 1;
        }
        dropped
    }

    /// Whether `key` was requested (whatever its state).
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Marks `key` as requested.
    pub fn set_loading(&mut self, key: K) {
        self.make_room();
        self.insert(key, Entry::Loading);
    }

    /// Stores a value (used in this frame: it was just asked for).
    pub fn set_ready(&mut self, key: K, value: T) {
        self.insert(key, Entry::Ready(Arc::new(value)));
    }

    /// Stores a failure.
    pub fn set_failed(&mut self, key: K, message: String) {
        self.insert(key, Entry::Failed(message));
    }

    fn insert(&mut self, key: K, entry: Entry<T>) {
        self.entries
            .insert(key, (entry, AtomicU64::new(self.clock)));
    }

    /// Forgets `key`, so that the next view of it asks again.
    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Forgets the entries for which `f` returns true.
    pub fn remove_where(&mut self, mut f: impl FnMut(&K) -> bool) {
        self.entries.retain(|k, _| !f(k));
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn make_room(&mut self) {
        if self.entries.len() < self.capacity {
            return;
        }
        // Drop failed and ready entries (never loading ones: their answers are awaited).
        let victims: Vec<K> = self
            .entries
            .iter()
            .filter(|(_, (e, _))| !e.is_loading())
            .map(|(k, _)| k.clone())
            .take(self.capacity / 4 + 1)
            .collect();
        for k in victims {
            self.entries.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_move_from_loading_to_ready_or_failed() {
        let mut c: Cache<u32, String> = Cache::new(10);
        assert!(c.get(&1).is_none());
        c.set_loading(1);
        assert!(c.get(&1).unwrap().is_loading());
        c.set_ready(1, "x".into());
        assert_eq!(c.get(&1).unwrap().ready().unwrap().as_str(), "x");
        c.set_failed(2, "bad".into());
        assert!(matches!(c.get(&2), Some(Entry::Failed(m)) if m == "bad"));
    }

    #[test]
    fn capacity_never_drops_loading_entries() {
        let mut c: Cache<u32, u32> = Cache::new(4);
        for k in 0..4 {
            c.set_loading(k);
        }
        c.set_loading(9);
        assert!(c.get(&0).unwrap().is_loading());
        for k in 10..20 {
            c.set_ready(k, k);
            c.set_loading(100 + k);
        }
        assert!(c.len() <= 4 + 20);
        assert!(c.get(&9).unwrap().is_loading());
    }

    #[test]
    fn eviction_drops_the_least_recently_read_values_above_the_budget() {
        let mut c: Cache<u32, Vec<u8>> = Cache::new(100);
        let size = |v: &Vec<u8>| v.len();
        for k in 0..5 {
            c.set_ready(k, vec![0; 10]);
            c.tick();
        }
        // Within budget: nothing goes.
        assert_eq!(c.evict_unused(50, size), 0);
        assert_eq!(c.len(), 5);
        // Read 0 and 1 again (0 in this frame), and have one loading.
        c.get(&1);
        c.tick();
        c.get(&0);
        c.set_loading(9);
        assert_eq!(c.evict_unused(25, size), 3);
        // The oldest reads went first (2, 3, 4); 1 was read after them, 0 in this frame.
        assert!(c.peek(&0).is_some() && c.peek(&1).is_some());
        assert!(c.peek(&2).is_none() && c.peek(&3).is_none() && c.peek(&4).is_none());
        assert!(c.get(&9).unwrap().is_loading());
        // What this frame reads stays even above the budget.
        assert_eq!(c.evict_unused(0, size), 1);
        assert!(c.peek(&0).is_some());
        assert!(c.peek(&1).is_none());
        c.tick();
        assert_eq!(c.evict_unused(0, size), 1);
        assert_eq!(c.len(), 1);
        assert!(c.peek(&9).unwrap().is_loading());
    }

    #[test]
    fn peeking_and_iterating_do_not_count_as_use() {
        let mut c: Cache<u32, Vec<u8>> = Cache::new(100);
        c.set_ready(1, vec![0; 10]);
        c.set_ready(2, vec![0; 10]);
        c.tick();
        c.get(&2);
        c.tick();
        c.peek(&2);
        assert_eq!(c.iter().count(), 2);
        // 1 and 2 both unread this frame; 1 was read longer ago and goes first.
        assert_eq!(c.evict_unused(10, Vec::len), 1);
        assert!(c.peek(&1).is_none() && c.peek(&2).is_some());
    }
}
