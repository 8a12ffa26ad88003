//! Interpreter slots shared fairly between tenants. Activations run on a few blocking threads
//! (one per core); with a plain first-come queue, a tenant with many busy runs (long loops, an
//! expression near its fuel limit) fills the queue and every other tenant's activation waits
//! behind all of its work. Here each tenant waits in a queue of its own and a freed slot goes
//! to the next tenant in turn, so another tenant's activation waits for at most one
//! activation of each busy tenant, however much work they have queued.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// A fixed number of slots, granted round-robin across tenants.
#[derive(Clone)]
pub struct FairSlots {
    state: Arc<Mutex<State>>,
}

struct State {
    /// Slots nobody holds or is being handed.
    free: usize,
    /// Each waiting tenant's waiters, oldest first.
    waiting: HashMap<String, VecDeque<oneshot::Sender<Slot>>>,
    /// Tenants with waiters, in the order their turns come.
    turns: VecDeque<String>,
}

/// A held slot; dropping it hands it to the next waiter in turn, or frees it.
pub struct Slot {
    /// `None` only for a slot being given back inside [`Slot::drop`].
    state: Option<Arc<Mutex<State>>>,
}

impl FairSlots {
    /// `slots` slots (at least one).
    pub fn new(slots: usize) -> Self {
        FairSlots {
            state: Arc::new(Mutex::new(State {
                free: slots.max(1),
                waiting: HashMap::new(),
                turns: VecDeque::new(),
            })),
        }
    }

    /// Waits for a slot for an activation of `tenant`.
    pub async fn acquire(&self, tenant: &str) -> Slot {
        let receiver = {
            let mut state = lock(&self.state);
            if state.free > 0 && state.turns.is_empty() {
                state.free -= 1;
                return Slot {
                    state: Some(self.state.clone()),
                };
            }
            let (sender, receiver) = oneshot::channel();
            let queue = state.waiting.entry(tenant.to_owned()).or_default();
            queue.push_back(sender);
            if queue.len() == 1 {
                state.turns.push_back(tenant.to_owned());
            }
            receiver
        };
        // A sender is dropped unsent only with the state, which `self` keeps alive.
        receiver
            .await
            .unwrap_or_else(|_| unreachable!("a waiter's sender dropped unsent"))
    }

    /// Slots nobody holds (0 while activations queue: the worker's CPU is the bottleneck).
    pub fn available(&self) -> usize {
        lock(&self.state).free
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(shared) = self.state.take() else {
            return;
        };
        let mut state = lock(&shared);
        // Hand the slot to the next tenant in turn; a waiter that gave up is skipped.
        while let Some(tenant) = state.turns.pop_front() {
            let Some(queue) = state.waiting.get_mut(&tenant) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                state.waiting.remove(&tenant);
            } else {
                state.turns.push_back(tenant);
            }
            if let Some(sender) = next {
                let slot = Slot {
                    state: Some(shared.clone()),
                };
                match sender.send(slot) {
                    Ok(()) => return,
                    // The waiter gave up: the slot came back; it is this one, go on.
                    Err(mut unwanted) => drop(unwanted.state.take()),
                }
            }
        }
        state.free += 1;
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which of `waiters` have a slot now, by name.
    fn granted(waiters: &mut [(&'static str, tokio::task::JoinHandle<Slot>)]) -> Vec<&'static str> {
        waiters
            .iter()
            .filter(|(_, handle)| handle.is_finished())
            .map(|(name, _)| *name)
            .collect()
    }

    #[test]
    fn a_freed_slot_goes_to_the_next_tenant_in_turn() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let slots = FairSlots::new(1);
            let held = slots.acquire("noisy").await;
            // The noisy tenant queues three activations, then a quiet tenant one.
            let mut waiters = Vec::new();
            for name in ["noisy-1", "noisy-2", "noisy-3"] {
                let slots = slots.clone();
                waiters.push((
                    name,
                    tokio::spawn(async move { slots.acquire("noisy").await }),
                ));
                tokio::task::yield_now().await;
            }
            let quiet = slots.clone();
            waiters.push((
                "quiet",
                tokio::spawn(async move { quiet.acquire("quiet").await }),
            ));
            tokio::task::yield_now().await;
            assert!(granted(&mut waiters).is_empty());

            // Each release grants one waiter: the noisy tenant's oldest, then the quiet
            // tenant's (not the noisy tenant's second), then the noisy tenant's others.
            let mut order = Vec::new();
            let mut current = held;
            for _ in 0..4 {
                drop(current);
                tokio::task::yield_now().await;
                let now = granted(&mut waiters);
                let name = now
                    .iter()
                    .find(|n| !order.contains(*n))
                    .copied()
                    .expect("a waiter was granted");
                order.push(name);
                let index = waiters.iter().position(|(n, _)| *n == name).unwrap();
                let (_, handle) = waiters.remove(index);
                current = handle.await.unwrap();
            }
            assert_eq!(order, ["noisy-1", "quiet", "noisy-2", "noisy-3"]);
            drop(current);
            assert_eq!(slots.available(), 1);
        });
    }

    #[test]
    fn a_waiter_that_gives_up_does_not_keep_a_slot() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let slots = FairSlots::new(1);
            let held = slots.acquire("a").await;
            let impatient = slots.clone();
            let gave_up = tokio::spawn(async move { impatient.acquire("b").await });
            tokio::task::yield_now().await;
            gave_up.abort();
            let _ = gave_up.await;
            drop(held);
            assert_eq!(slots.available(), 1);
            let _again = slots.acquire("c").await;
            assert_eq!(slots.available(), 0);
        });
    }
}
