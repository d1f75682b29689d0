//! One drain at a time per (project, stage): a notification that comes
//! during a drain schedules exactly one more drain after it, however many
//! come (the incumbent let two drains of one stage overlap: its PR #207).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// What a request for a drain led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// None was running: the caller runs it now (and calls `finished`).
    Start,
    /// One is running: one more runs after it.
    Queued,
    /// One is running and one more is already due after it.
    AlreadyQueued,
}

#[derive(Debug)]
pub struct Drains<K> {
    /// Keys with a drain running, and whether another is due after it.
    running: Mutex<HashMap<K, bool>>,
}

impl<K: Eq + Hash + Clone> Default for Drains<K> {
    fn default() -> Self {
        Drains {
            running: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone> Drains<K> {
    pub fn request(&self, key: &K) -> Requested {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(key) {
            None => {
                running.insert(key.clone(), false);
                Requested::Start
            }
            Some(again @ false) => {
                *again = true;
                Requested::Queued
            }
            Some(true) => Requested::AlreadyQueued,
        }
    }

    /// The drain of `key` ended: true when another is due (the caller runs
    /// it at once and calls this again after), false when the key is idle.
    pub fn finished(&self, key: &K) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get_mut(key) {
            Some(again @ true) => {
                *again = false;
                true
            }
            _ => {
                running.remove(key);
                false
            }
        }
    }

    /// How many keys have a drain running.
    pub fn running(&self) -> usize {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_during_a_drain_runs_exactly_one_more() {
        let d = Drains::default();
        let k = ("p", "s");
        assert_eq!(d.request(&k), Requested::Start);
        assert_eq!(d.request(&k), Requested::Queued);
        assert_eq!(d.request(&k), Requested::AlreadyQueued);
        assert_eq!(d.request(&k), Requested::AlreadyQueued);
        assert!(d.finished(&k), "one more is due");
        assert_eq!(d.running(), 1);
        assert!(!d.finished(&k), "and no more after it");
        assert_eq!(d.running(), 0);
        assert_eq!(d.request(&k), Requested::Start, "idle again");
    }

    #[test]
    fn stages_drain_independently() {
        let d = Drains::default();
        assert_eq!(d.request(&("p", "a")), Requested::Start);
        assert_eq!(d.request(&("p", "b")), Requested::Start);
        assert_eq!(d.request(&("q", "a")), Requested::Start);
        assert_eq!(d.running(), 3);
    }

    #[test]
    fn concurrent_requests_start_one_drain() {
        let d = std::sync::Arc::new(Drains::default());
        let starts: usize = (0..8)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|_| d.request(&1) == Requested::Start)
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(starts, 1);
    }
}
