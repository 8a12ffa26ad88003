//! Interpreter slots shared fairly between tenants. Activations run on a few blocking threads;
//! with a plain first-come queue, a tenant with many busy runs (long loops, an expression near
//! its fuel limit) fills the queue and every other tenant's activation waits behind all of its
//! work. Here each tenant waits in a queue of its own and a freed slot goes to the next tenant
//! in turn, so another tenant's activation waits for at most one activation of each busy
//! tenant, however much work they have queued.
//!
//! Taking turns still makes a newcomer wait for a slot to free. So no tenant may hold every
//! slot: with one slot more than the machine has cores ([`FairSlots::for_cores`]), a tenant
//! alone uses every core, and another tenant's activation starts at once beside it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// A fixed number of slots, granted round-robin across tenants, at most all but one of them to
/// any one tenant.
#[derive(Clone)]
pub struct FairSlots {
    state: Arc<Mutex<State>>,
    slots: usize,
}

struct State {
    /// Slots nobody holds or is being handed.
    free: usize,
    /// The most slots one tenant may hold at once.
    per_tenant: usize,
    /// Slots held, by tenant (tenants holding none are absent).
    held: HashMap<String, usize>,
    /// Each waiting tenant's waiters, oldest first.
    waiting: HashMap<String, VecDeque<oneshot::Sender<Slot>>>,
    /// Tenants with waiters, in the order their turns come.
    turns: VecDeque<String>,
}

/// A held slot; dropping it hands it to the next waiter in turn, or frees it.
pub struct Slot {
    /// `None` only for a slot being given back inside [`Slot::drop`] or never handed over.
    state: Option<Arc<Mutex<State>>>,
    tenant: String,
}

impl FairSlots {
    /// `slots` slots (at least one); a tenant may hold all but one of them (all of a single
    /// slot).
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        FairSlots {
            state: Arc::new(Mutex::new(State {
                free: slots,
                per_tenant: (slots - 1).max(1),
                held: HashMap::new(),
                waiting: HashMap::new(),
                turns: VecDeque::new(),
            })),
            slots,
        }
    }

    /// Slots for a machine of `cores` cores: one per core and a spare, so one tenant can keep
    /// every core busy and another still starts at once.
    pub fn for_cores(cores: usize) -> Self {
        FairSlots::new(cores.max(1) + 1)
    }

    /// Waits for a slot for an activation of `tenant`.
    pub async fn acquire(&self, tenant: &str) -> Slot {
        let receiver = {
            let mut state = lock(&self.state);
            // Free slots and no waiter they could go to (handing out restores that after
            // every change), so a tenant under its share takes one at once.
            if state.free > 0 && state.holds(tenant) < state.per_tenant {
                state.grant(tenant);
                return Slot {
                    state: Some(self.state.clone()),
                    tenant: tenant.to_owned(),
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

    /// How many slots there are: activations in flight at most.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Slots nobody holds (0 while activations queue: the worker's CPU is the bottleneck).
    pub fn available(&self) -> usize {
        lock(&self.state).free
    }
}

impl State {
    fn holds(&self, tenant: &str) -> usize {
        self.held.get(tenant).copied().unwrap_or(0)
    }

    fn grant(&mut self, tenant: &str) {
        self.free -= 1;
        *self.held.entry(tenant.to_owned()).or_default() += 1;
    }

    fn give_back(&mut self, tenant: &str) {
        self.free += 1;
        if let Some(held) = self.held.get_mut(tenant) {
            *held -= 1;
            if *held == 0 {
                self.held.remove(tenant);
            }
        }
    }

    /// Hands free slots to waiting tenants in turn, skipping a tenant at its share (it keeps
    /// its place) and waiters that gave up.
    fn hand_out(&mut self, shared: &Arc<Mutex<State>>) {
        let mut passed = 0;
        while self.free > 0 && passed < self.turns.len() {
            let Some(tenant) = self.turns.pop_front() else {
                break;
            };
            if self.holds(&tenant) >= self.per_tenant {
                self.turns.push_back(tenant);
                passed += 1;
                continue;
            }
            passed = 0;
            let Some(queue) = self.waiting.get_mut(&tenant) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                self.waiting.remove(&tenant);
            } else {
                self.turns.push_back(tenant.clone());
            }
            let Some(sender) = next else {
                continue;
            };
            self.grant(&tenant);
            let slot = Slot {
                state: Some(shared.clone()),
                tenant,
            };
            // A waiter that gave up sends the slot back: take it back without its drop.
            if let Err(mut unwanted) = sender.send(slot) {
                unwanted.state = None;
                self.give_back(&unwanted.tenant);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(shared) = self.state.take() else {
            return;
        };
        let mut state = lock(&shared);
        state.give_back(&self.tenant);
        state.hand_out(&shared);
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
    fn no_tenant_takes_the_last_slot() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Two cores: three slots, two of them at most to one tenant.
            let slots = FairSlots::for_cores(2);
            let first = slots.acquire("noisy").await;
            let _second = slots.acquire("noisy").await;
            let more = slots.clone();
            let mut waiters = vec![(
                "noisy-3",
                tokio::spawn(async move { more.acquire("noisy").await }),
            )];
            tokio::task::yield_now().await;
            assert!(
                granted(&mut waiters).is_empty(),
                "the noisy tenant is at its share"
            );
            assert_eq!(slots.available(), 1);

            // Another tenant starts at once beside it, in the spare slot.
            let quiet = slots.acquire("quiet").await;
            assert_eq!(slots.available(), 0);
            // The quiet tenant's slot freed is not the noisy tenant's to take...
            drop(quiet);
            tokio::task::yield_now().await;
            assert!(granted(&mut waiters).is_empty());
            assert_eq!(slots.available(), 1);
            // ...but one of its own is.
            drop(first);
            tokio::task::yield_now().await;
            assert_eq!(granted(&mut waiters), ["noisy-3"]);
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
