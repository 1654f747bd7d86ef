//! Block-end assignment of pending tasks to providers: a deterministic draw from
//! the header seed and the task id, weighted by bond.
//!
//! Why it resists gaming: the seed comes from the consensus engine and only
//! tasks admitted in an earlier block are assigned, so neither the submitter nor
//! anything in the same block can steer the draw; weight is proportional to bond,
//! so splitting one bond across identities never raises the odds.

use std::collections::BTreeMap;

use crate::block::Header;
use crate::config::VerificationMode;
use crate::events::Event;
use crate::providers::Provider;
use crate::state::State;
use crate::tasks::TaskStatus;
use crate::types::{Address, Amount, Hash, ModelId, ProviderId, TaskId};

/// A provider that may be drawn, with its owner and weight.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub id: ProviderId,
    pub owner: Address,
    pub weight: Amount,
}

/// Uniform-ish u128 from the seed, the task and a counter (bias < weight/2^128).
fn draw_value(domain: &str, seed: &Hash, task: &TaskId, round: u64) -> u128 {
    let mut h = blake3::Hasher::new_derive_key(domain);
    h.update(seed);
    h.update(&task.0);
    h.update(&round.to_le_bytes());
    let out = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&out.as_bytes()[..16]);
    u128::from_le_bytes(b)
}

/// Draws up to `count` candidates of distinct owners without replacement,
/// weighted by `weight`. Candidates must be in a canonical order (by id).
pub(crate) fn weighted_draw(
    domain: &str,
    mut candidates: Vec<Candidate>,
    seed: &Hash,
    task: &TaskId,
    count: u32,
) -> Vec<ProviderId> {
    let mut chosen = Vec::new();
    let mut round = 0u64;
    while (chosen.len() as u64) < u64::from(count) {
        let total: u128 = candidates
            .iter()
            .fold(0u128, |a, c| a.saturating_add(c.weight));
        if total == 0 {
            break;
        }
        let mut target = draw_value(domain, seed, task, round) % total;
        round += 1;
        let Some(pos) = candidates.iter().position(|c| {
            if target < c.weight {
                true
            } else {
                target -= c.weight;
                false
            }
        }) else {
            break;
        };
        let pick = candidates.swap_remove(pos);
        candidates.retain(|c| c.owner != pick.owner);
        // swap_remove broke the order; restore it so later rounds stay canonical.
        candidates.sort_by_key(|c| c.id);
        chosen.push(pick.id);
    }
    chosen
}

/// A provider that serves a model and passes every eligibility rule except
/// the collateral one, with what that rule needs.
#[derive(Clone, Debug)]
struct ModelCandidate {
    candidate: Candidate,
    available_bond: Amount,
}

impl State {
    /// For every model some provider serves, the providers eligible for its
    /// tasks whatever their collateral, in id order: one scan of the providers.
    fn serving_lists(&self, now_ms: u64) -> BTreeMap<ModelId, Vec<ModelCandidate>> {
        let mut lists: BTreeMap<ModelId, Vec<ModelCandidate>> = BTreeMap::new();
        for p in self.providers.values() {
            if !self.can_take_tasks(p, now_ms) {
                continue;
            }
            let entry = ModelCandidate {
                candidate: Candidate {
                    id: p.id,
                    owner: p.owner,
                    weight: self.draw_weight(p),
                },
                available_bond: p.available_bond(),
            };
            for model in p.models.iter() {
                match lists.get_mut(model.as_str()) {
                    // A model listed twice by one provider still counts once.
                    Some(list) if list.last().is_some_and(|m| m.candidate.id == p.id) => {}
                    Some(list) => list.push(entry.clone()),
                    None => {
                        lists.insert(model.clone(), vec![entry.clone()]);
                    }
                }
            }
        }
        lists
    }
}

/// The first draw of [`weighted_draw`] without copying the candidates: the same
/// provider `weighted_draw(domain, candidates, seed, task, 1)` would pick.
/// Walks `candidates` twice (total weight, then the pick), so it takes a
/// cloneable iterator rather than a collected list.
fn draw_one<'a>(
    domain: &str,
    candidates: impl Iterator<Item = &'a Candidate> + Clone,
    seed: &Hash,
    task: &TaskId,
) -> Option<&'a Candidate> {
    let total: u128 = candidates
        .clone()
        .fold(0u128, |a, c| a.saturating_add(c.weight));
    if total == 0 {
        return None;
    }
    let mut target = draw_value(domain, seed, task, 0) % total;
    candidates.into_iter().find(|c| {
        if target < c.weight {
            true
        } else {
            target -= c.weight;
            false
        }
    })
}

/// Providers serving each model, all computed in one scan of the providers
/// per block end instead of one scan per task. Eligibility for a task is its
/// model's list filtered by the task's collateral ([`CandidateCache::eligible`]),
/// in the same id order, so every model and collateral amount shares the scan.
/// Assigning a task only raises one provider's `open_tasks` and locks nothing,
/// so [`CandidateCache::updated`] keeps the lists exact; anything else that
/// changes providers must `clear` it.
#[derive(Default)]
struct CandidateCache {
    /// Built on first use in a block end: `None` until then and after `clear`.
    lists: Option<BTreeMap<ModelId, Vec<ModelCandidate>>>,
}

impl CandidateCache {
    /// Providers eligible for a task of `model` needing `collateral`, in id order.
    fn eligible<'a>(
        &'a mut self,
        state: &State,
        model: &str,
        collateral: Amount,
        now_ms: u64,
    ) -> impl Iterator<Item = &'a Candidate> + Clone {
        let lists = self
            .lists
            .get_or_insert_with(|| state.serving_lists(now_ms));
        lists
            .get(model)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter(move |m| m.available_bond >= collateral)
            .map(|m| &m.candidate)
    }

    /// Re-evaluates provider `p` (just changed) in the lists of the models it serves.
    fn updated(&mut self, state: &State, p: &Provider, now_ms: u64) {
        let Some(lists) = self.lists.as_mut() else {
            return;
        };
        let still_eligible = state.can_take_tasks(p, now_ms);
        for model in p.models.iter() {
            let Some(list) = lists.get_mut(model.as_str()) else {
                continue;
            };
            let Ok(pos) = list.binary_search_by(|m| m.candidate.id.cmp(&p.id)) else {
                continue;
            };
            if !still_eligible {
                list.remove(pos);
            } else if let Some(m) = list.get_mut(pos) {
                m.candidate.weight = state.draw_weight(p);
                m.available_bond = p.available_bond();
            }
        }
    }

    fn clear(&mut self) {
        self.lists = None;
    }
}

/// Gives every pending task admitted before this block to a provider, oldest first.
pub(crate) fn assign_pending(state: &mut State, header: &Header, events: &mut Vec<Event>) {
    let pending: Vec<TaskId> = state.queue.values().copied().collect();
    let mut cache = CandidateCache::default();
    for id in pending {
        let Some(task) = state
            .tasks
            .get(&id)
            .filter(|t| t.created_height < header.height && t.status == TaskStatus::Pending)
            .cloned()
        else {
            continue;
        };
        match task.terms.mode {
            VerificationMode::MultiPartyRedundant => {
                crate::redundant::assign(state, task, header, events);
                cache.clear();
            }
            VerificationMode::Optimistic | VerificationMode::TeeAttested => {
                assign_single(state, &mut cache, task, header, events)
            }
        }
    }
}

fn assign_single(
    state: &mut State,
    cache: &mut CandidateCache,
    mut task: crate::tasks::Task,
    header: &Header,
    events: &mut Vec<Event>,
) {
    let candidates = cache
        .eligible(state, &task.model, task.terms.collateral, header.time_ms)
        .filter(|c| task.missed_by.binary_search(&c.id).is_err());
    let Some(pid) = draw_one("aivm v1 assign", candidates, &header.seed, &task.id).map(|c| c.id)
    else {
        return; // no eligible provider: the task waits (until its timeout)
    };
    let Some(mut p) = state.providers.get(&pid).cloned() else {
        return;
    };
    p.open_tasks += 1;
    cache.updated(state, &p, header.time_ms);
    state.providers.insert(pid, p);
    state.dequeue(&mut task);
    let deadline = header
        .height
        .saturating_add(task.terms.result_deadline_blocks);
    task.status = TaskStatus::Assigned;
    task.provider = Some(pid);
    task.deadline = Some(deadline);
    state.set_timer(&mut task, Some(deadline));
    events.push(Event::TaskAssigned {
        task: task.id,
        provider: pid,
        deadline_height: deadline,
    });
    state.put_task(task);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::genesis::{Genesis, GenesisProvider};
    use crate::providers::ProviderStatus;

    const TOKEN: Amount = 1_000_000_000_000_000_000;

    /// A provider as the test shapes it: models (indices into the default
    /// models, repeats allowed), bond and lock in tokens, open tasks, status.
    type Shape = (Vec<u8>, u8, u8, u32, u8);

    fn state_with(shapes: &[Shape]) -> State {
        let models: Vec<ModelId> = crate::models::default_models()
            .into_iter()
            .map(|m| m.id)
            .collect();
        let mut genesis = Genesis::new("cache-test", Vec::new());
        for (i, (served, bond, ..)) in shapes.iter().enumerate() {
            let mut owner = [0u8; 32];
            owner[0] = i as u8;
            genesis.providers.push(GenesisProvider {
                owner: Address(owner),
                endpoint: format!("https://p{i}.example"),
                gpus: Vec::new(),
                models: served
                    .iter()
                    .map(|m| models[usize::from(*m) % models.len()].clone())
                    .collect(),
                bond: (u128::from(*bond) + 1) * TOKEN,
            });
        }
        let mut state = State::genesis(&genesis).expect("a valid genesis");
        let ids: Vec<ProviderId> = state.providers.iter().map(|(id, _)| *id).collect();
        for (id, (_, _, locked, open, status)) in ids.into_iter().zip(shapes) {
            let Some(mut p) = state.providers.get(&id).cloned() else {
                continue;
            };
            p.locked = (u128::from(*locked) * TOKEN / 2).min(p.bond);
            p.open_tasks = *open;
            if status % 4 == 0 {
                p.status = ProviderStatus::Unbonding { until_height: 9 };
            }
            state.providers.insert(id, p);
        }
        state
    }

    /// What the cache must give: every provider filtered by the full rule, in id order.
    fn scan(state: &State, model: &str, collateral: Amount) -> Vec<ProviderId> {
        state
            .providers
            .values()
            .filter(|p| state.is_eligible(p, model, collateral, 0))
            .map(|p| p.id)
            .collect()
    }

    proptest! {
        /// One scan for all models, filtered by collateral per task, lists the
        /// same providers in the same order as the full rule, before and after
        /// assignments raise `open_tasks`.
        #[test]
        fn the_cache_lists_exactly_the_eligible_providers(
            shapes in prop::collection::vec(
                (prop::collection::vec(0u8..3, 1..5), 0u8..8, 0u8..16, 0u32..40, any::<u8>()),
                0..12,
            ),
            collaterals in prop::collection::vec(0u8..20, 1..6),
            bumps in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut state = state_with(&shapes);
            let mut models: Vec<ModelId> = crate::models::default_models()
                .into_iter()
                .map(|m| m.id)
                .collect();
            models.push("nobody-serves-this".to_string());
            let mut cache = CandidateCache::default();
            let check = |cache: &mut CandidateCache, state: &State| -> Result<(), TestCaseError> {
                for model in &models {
                    for c in &collaterals {
                        let collateral = u128::from(*c) * TOKEN / 2;
                        let got: Vec<ProviderId> =
                            cache.eligible(state, model, collateral, 0).map(|c| c.id).collect();
                        prop_assert_eq!(got, scan(state, model, collateral));
                    }
                }
                Ok(())
            };
            check(&mut cache, &state)?;
            let ids: Vec<ProviderId> = state.providers.iter().map(|(id, _)| *id).collect();
            for bump in bumps {
                if ids.is_empty() {
                    break;
                }
                let id = ids[bump.index(ids.len())];
                let Some(mut p) = state.providers.get(&id).cloned() else {
                    continue;
                };
                p.open_tasks += 1;
                cache.updated(&state, &p, 0);
                state.providers.insert(id, p);
                check(&mut cache, &state)?;
            }
        }
    }
}
