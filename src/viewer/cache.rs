//! What views read: one entry per request, `Loading`, `Ready` or `Failed`.
//!
//! Entries are filled by answers from the worker ([`super::worker`]); views never wait for them.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

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
    entries: HashMap<K, Entry<T>>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone, T> Cache<K, T> {
    /// An empty cache keeping at most `capacity` entries (older ready entries are dropped first).
    pub fn new(capacity: usize) -> Self {
        Cache {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The entry for `key`, if it was ever requested.
    pub fn get(&self, key: &K) -> Option<&Entry<T>> {
        self.entries.get(key)
    }

    /// The ready value of `key`, to change in place (`Arc::make_mut`).
    pub fn ready_mut(&mut self, key: &K) -> Option<&mut Arc<T>> {
        match self.entries.get_mut(key) {
            Some(Entry::Ready(v)) => Some(v),
            _ => None,
        }
    }

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Entry<T>)> {
        self.entries.iter()
    }

    /// Whether `key` was requested (whatever its state).
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Marks `key` as requested.
    pub fn set_loading(&mut self, key: K) {
        self.make_room();
        self.entries.insert(key, Entry::Loading);
    }

    /// Stores a value.
    pub fn set_ready(&mut self, key: K, value: T) {
        self.entries.insert(key, Entry::Ready(Arc::new(value)));
    }

    /// Stores a failure.
    pub fn set_failed(&mut self, key: K, message: String) {
        self.entries.insert(key, Entry::Failed(message));
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
            .filter(|(_, e)| !e.is_loading())
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
}
