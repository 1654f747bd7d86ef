//! `apply_block`: header checks, per-transaction execution with rollback, and
//! block-end processing (timers, timeouts, assignment, epochs, roots, anchors).

use crate::anchor::anchor_at;
use crate::block::{Block, Header};
use crate::commit::tree::{leaf_hash, reference_root};
use crate::events::Event;
use crate::outcome::{BlockError, BlockOutcome, CheckError, Receipt, TxError, TxStatus};
use crate::state::State;
use crate::tasks::TaskStatus;
use crate::tx::{Action, AuthError, VerifiedTx};
use crate::types::{Address, Hash, TaskId};

/// What a transaction handler sees: the state, with a rollback point that
/// undoes the handler's writes if it fails (see `state::journal`).
pub(crate) struct Ctx<'a> {
    pub state: &'a mut State,
    pub header: &'a Header,
    pub signer: Address,
    pub nonce: u64,
    pub events: Vec<Event>,
}

/// What block-end processing sees.
pub(crate) struct EndCtx<'a> {
    pub state: &'a mut State,
    pub header: &'a Header,
    pub events: Vec<Event>,
    /// Results finalised in this block, in finalisation order.
    pub results: Vec<(TaskId, Hash)>,
}

/// Applies a block, verifying every signature one by one.
pub fn apply_block(state: &State, block: &Block) -> Result<(State, BlockOutcome), BlockError> {
    let verified: Vec<Result<VerifiedTx, AuthError>> =
        block.txs.iter().map(|t| t.verify()).collect();
    apply_verified_block(state, block, verified)
}

/// Applies a block whose signatures the caller already checked (e.g. in
/// batches on many cores). `verified[i]` must be the verdict for `block.txs[i]`.
pub fn apply_verified_block(
    state: &State,
    block: &Block,
    verified: Vec<Result<VerifiedTx, AuthError>>,
) -> Result<(State, BlockOutcome), BlockError> {
    apply_observed(state, block, verified, &mut |_, _| {})
}

/// Like [`apply_verified_block`], calling `observe` with the state after every
/// transaction (with its receipt) and once more after block end (with `None`).
/// Tests use it to check the invariants after every transaction.
pub fn apply_observed(
    state: &State,
    block: &Block,
    verified: Vec<Result<VerifiedTx, AuthError>>,
    observe: &mut dyn FnMut(&State, Option<&Receipt>),
) -> Result<(State, BlockOutcome), BlockError> {
    let mut next = state.clone();
    let outcome = apply_in_place_observed(&mut next, block, verified, observe)?;
    Ok((next, outcome))
}

/// [`apply_block`] on a state the caller owns: the state becomes the next
/// one. On an error nothing has changed. It gives the same state and outcome
/// as [`apply_block`], faster: a state no other copy shares is updated in
/// place instead of path by path (use it when the previous state is not kept).
pub fn apply_block_in_place(state: &mut State, block: &Block) -> Result<BlockOutcome, BlockError> {
    let verified: Vec<Result<VerifiedTx, AuthError>> =
        block.txs.iter().map(|t| t.verify()).collect();
    apply_verified_block_in_place(state, block, verified)
}

/// [`apply_verified_block`] in place, as [`apply_block_in_place`] is [`apply_block`].
pub fn apply_verified_block_in_place(
    state: &mut State,
    block: &Block,
    verified: Vec<Result<VerifiedTx, AuthError>>,
) -> Result<BlockOutcome, BlockError> {
    apply_in_place_observed(state, block, verified, &mut |_, _| {})
}

/// The one implementation behind every `apply_*`: every check that can refuse
/// the block runs before the first change.
fn apply_in_place_observed(
    next: &mut State,
    block: &Block,
    verified: Vec<Result<VerifiedTx, AuthError>>,
    observe: &mut dyn FnMut(&State, Option<&Receipt>),
) -> Result<BlockOutcome, BlockError> {
    check_header(next, &block.header)?;
    if verified.len() != block.txs.len() {
        return Err(BlockError::TxCountMismatch {
            expected: block.txs.len() as u64,
            got: verified.len() as u64,
        });
    }
    // Verified transactions carry their hash already: hash only the refused ones.
    let hashes: Vec<Hash> = block
        .txs
        .iter()
        .zip(&verified)
        .map(|(signed, v)| v.as_ref().map_or_else(|_| signed.hash(), |tx| tx.hash))
        .collect();
    if reference_root(&hashes) != block.header.tx_root {
        return Err(BlockError::TxRootMismatch);
    }
    let mut receipts = Vec::with_capacity(verified.len());
    for (hash, v) in hashes.into_iter().zip(verified) {
        let receipt = match v {
            Ok(tx) => apply_tx(next, &block.header, tx),
            Err(e) => Receipt {
                tx: hash,
                status: TxStatus::Rejected(CheckError::Auth(e)),
                fee: 0,
                events: Vec::new(),
            },
        };
        next.globals.receipts_processed += 1;
        observe(next, Some(&receipt));
        receipts.push(receipt);
    }
    let (end_events, results_root, anchor) = end_block(next, &block.header);
    observe(next, None);
    let block_id = block.header.id();
    next.tip = crate::state::Tip {
        height: block.header.height,
        block_id,
        time_ms: block.header.time_ms,
    };
    Ok(BlockOutcome {
        height: block.header.height,
        block_id,
        receipts,
        end_events,
        state_root: next.state_root,
        results_root,
        anchor,
    })
}

/// Stateless-against-the-block header rules.
pub fn check_header(state: &State, h: &Header) -> Result<(), BlockError> {
    if *h.chain_id != *state.chain_id {
        return Err(BlockError::WrongChain {
            expected: state.chain_id.to_string(),
            got: h.chain_id.clone(),
        });
    }
    if Some(h.height) != state.tip.height.checked_add(1) {
        return Err(BlockError::WrongHeight {
            expected_prev: state.tip.height,
            got: h.height,
        });
    }
    if h.parent != state.tip.block_id {
        return Err(BlockError::WrongParent {
            expected: state.tip.block_id,
            got: h.parent,
        });
    }
    if h.time_ms < state.tip.time_ms {
        return Err(BlockError::TimeWentBackwards {
            last: state.tip.time_ms,
            got: h.time_ms,
        });
    }
    Ok(())
}

/// Mempool admission: would this transaction be chargeable on `state` now?
pub fn check_tx(state: &State, tx: &VerifiedTx) -> Result<(), CheckError> {
    chargeable(state, tx).map(|_| ())
}

/// [`check_tx`], returning the signer's account so the caller need not look it up again.
fn chargeable(state: &State, tx: &VerifiedTx) -> Result<crate::accounts::Account, CheckError> {
    if *tx.body.chain_id != *state.chain_id {
        return Err(CheckError::WrongChain {
            expected: state.chain_id.to_string(),
            got: tx.body.chain_id.clone(),
        });
    }
    let acct = state.account(&tx.signer);
    // The last nonce is never usable: nothing could follow it.
    if tx.body.nonce != acct.nonce || acct.nonce == u64::MAX {
        return Err(CheckError::BadNonce {
            expected: acct.nonce,
            got: tx.body.nonce,
        });
    }
    let fee = state.config.tx_fee;
    if acct.balance < fee {
        return Err(CheckError::CannotPayFee {
            balance: acct.balance,
            fee,
        });
    }
    Ok(acct)
}

/// Charges fee and nonce, then runs the action, undone if it fails.
fn apply_tx(state: &mut State, header: &Header, tx: VerifiedTx) -> Receipt {
    let mut acct = match chargeable(state, &tx) {
        Ok(acct) => acct,
        Err(e) => {
            return Receipt {
                tx: tx.hash,
                status: TxStatus::Rejected(e),
                fee: 0,
                events: Vec::new(),
            }
        }
    };
    let fee = state.config.tx_fee;
    acct.balance -= fee;
    acct.nonce += 1;
    state.accounts.insert(tx.signer, acct);
    state.globals.fee_pot = state.globals.fee_pot.saturating_add(fee);
    let fee_event = Event::FeePaid {
        payer: tx.signer,
        amount: fee,
    };

    state.begin_tx();
    let mut ctx = Ctx {
        state,
        header,
        signer: tx.signer,
        nonce: tx.body.nonce,
        events: vec![fee_event.clone()],
    };
    match dispatch(&mut ctx, tx.body.action) {
        Ok(()) => {
            let events = std::mem::take(&mut ctx.events);
            state.commit_tx();
            Receipt {
                tx: tx.hash,
                status: TxStatus::Applied,
                fee,
                events,
            }
        }
        Err(e) => {
            state.rollback_tx();
            Receipt {
                tx: tx.hash,
                status: TxStatus::Failed(e),
                fee,
                events: vec![fee_event],
            }
        }
    }
}

fn dispatch(ctx: &mut Ctx, action: Action) -> Result<(), TxError> {
    use crate::{accounts, mining, models, optimistic, providers, tasks};
    match action {
        Action::Transfer { to, amount } => accounts::transfer(ctx, to, amount),
        Action::RegisterModel {
            id,
            weights_hash,
            task_types,
            context_length,
        } => models::register(ctx, id, weights_hash, task_types, context_length),
        Action::RetireModel { id } => models::retire(ctx, id),
        Action::RegisterProvider {
            endpoint,
            gpus,
            models,
            bond,
            attestation,
        } => providers::register(ctx, endpoint, gpus, models, bond, attestation),
        Action::TopUpBond { provider, amount } => providers::top_up(ctx, provider, amount),
        Action::Unbond { provider } => providers::unbond(ctx, provider),
        Action::WithdrawBond { provider } => providers::withdraw(ctx, provider),
        Action::Attest {
            provider,
            attestation,
        } => providers::attest(ctx, provider, attestation),
        Action::SubmitTask {
            model,
            task_type,
            input_hash,
            inline_input,
            fee,
            redundancy,
        } => tasks::submit(
            ctx,
            tasks::Submission {
                model,
                task_type,
                input_hash,
                inline_input,
                fee,
                redundancy,
            },
        ),
        Action::SubmitResult {
            task,
            provider,
            output_hash,
            inline_output,
            compute_time_ms,
        } => optimistic::submit_result(
            ctx,
            optimistic::ResultPost {
                task,
                provider,
                output_hash,
                inline_output,
                compute_time_ms,
            },
        ),
        Action::Challenge { task, claim } => optimistic::challenge(ctx, task, claim),
        Action::RevealClaim {
            task,
            output_hash,
            salt,
        } => crate::dispute::reveal_claim(ctx, task, output_hash, salt),
        Action::CommitOutput {
            task,
            provider,
            commitment,
        } => route_commit(ctx, task, provider, commitment),
        Action::RevealOutput {
            task,
            provider,
            output_hash,
            salt,
        } => route_reveal(ctx, task, provider, output_hash, salt),
        Action::ClaimRewards { provider } => mining::claim(ctx, provider),
    }
}

fn committee_task(
    ctx: &Ctx,
    task: &TaskId,
    provider: &crate::types::ProviderId,
) -> Result<crate::tasks::Task, TxError> {
    ctx.state.owned_provider(provider, &ctx.signer)?;
    ctx.state
        .tasks
        .get(task)
        .cloned()
        .ok_or(TxError::UnknownTask)
}

fn route_commit(
    ctx: &mut Ctx,
    task: TaskId,
    provider: crate::types::ProviderId,
    c: Hash,
) -> Result<(), TxError> {
    let t = committee_task(ctx, &task, &provider)?;
    match t.status {
        TaskStatus::Disputed => crate::dispute::commit(ctx, t, provider, c),
        TaskStatus::Committing | TaskStatus::Revealing => {
            crate::redundant::commit(ctx, t, provider, c)
        }
        other => Err(TxError::WrongTaskStatus {
            status: other.name().to_string(),
        }),
    }
}

fn route_reveal(
    ctx: &mut Ctx,
    task: TaskId,
    provider: crate::types::ProviderId,
    out: Hash,
    salt: Hash,
) -> Result<(), TxError> {
    let t = committee_task(ctx, &task, &provider)?;
    match t.status {
        TaskStatus::Disputed => crate::dispute::reveal(ctx, t, provider, out, salt),
        TaskStatus::Committing | TaskStatus::Revealing => {
            crate::redundant::reveal(ctx, t, provider, out, salt)
        }
        other => Err(TxError::WrongTaskStatus {
            status: other.name().to_string(),
        }),
    }
}

/// Block-end processing. Returns the end events, the results root and any anchor.
fn end_block(
    state: &mut State,
    header: &Header,
) -> (Vec<Event>, Hash, Option<crate::anchor::Anchor>) {
    let mut end = EndCtx {
        state,
        header,
        events: Vec::new(),
        results: Vec::new(),
    };
    crate::mining::roll_epoch(&mut end);
    fire_timers(&mut end);
    let now = header.time_ms;
    crate::tasks::expire_pending(end.state, now, &mut end.events);
    crate::assignment::assign_pending(end.state, header, &mut end.events);
    crate::models::return_deposits(end.state, &mut end.events);
    pay_proposer(&mut end);

    let results_root = results_root(&end.results);
    let EndCtx { state, events, .. } = end;
    let freq = state.config.merkle_anchor_freq;
    // The list restarts in the block after an anchor (not in the anchoring block
    // itself), so an anchor's state root is exactly its block's state root.
    if freq > 0 && header.height > 1 && (header.height - 1).is_multiple_of(freq) {
        std::sync::Arc::make_mut(&mut state.globals.unanchored_results_roots).clear();
    }
    std::sync::Arc::make_mut(&mut state.globals.unanchored_results_roots).push(results_root);
    state.commit_roots();
    let anchor = anchor_at(
        &state.config.host_chain_id,
        freq,
        header.height,
        state.state_root,
        &state.globals.unanchored_results_roots,
    );
    (events, results_root, anchor)
}

/// Every timer due at or before this height, in (height, task) order.
fn fire_timers(end: &mut EndCtx) {
    let due: Vec<(u64, TaskId)> = end
        .state
        .timers
        .range(..=(end.header.height, TaskId([0xff; 32])))
        .map(|(k, _)| *k)
        .collect();
    for key in due {
        // A handler may have moved or cleared a later timer of this batch.
        if !end.state.remove_timer(&key) {
            continue;
        }
        let Some(mut task) = end.state.tasks.get(&key.1).cloned() else {
            continue;
        };
        task.timer = None;
        end.state.put_task(task.clone());
        match task.status {
            TaskStatus::Disputed => crate::dispute::on_timer(end, task),
            TaskStatus::Committing | TaskStatus::Revealing => crate::redundant::on_timer(end, task),
            // An M-of-N verdict in its escalation window.
            TaskStatus::ResultPosted
                if task.terms.mode == crate::config::VerificationMode::MultiPartyRedundant =>
            {
                crate::redundant::on_timer(end, task)
            }
            _ => crate::optimistic::on_timer(end, task),
        }
    }
}

fn pay_proposer(end: &mut EndCtx) {
    let amount = std::mem::take(&mut end.state.globals.fee_pot);
    if amount == 0 {
        return;
    }
    let proposer = end.header.proposer;
    let _ = end.state.credit(&proposer, amount);
    end.events.push(Event::ProposerPaid { proposer, amount });
}

/// Leaves `leaf_hash(task_id, output_hash)` in finalisation order.
pub fn results_leaves(results: &[(TaskId, Hash)]) -> Vec<Hash> {
    results.iter().map(|(t, h)| leaf_hash(&t.0, h)).collect()
}

pub fn results_root(results: &[(TaskId, Hash)]) -> Hash {
    reference_root(&results_leaves(results))
}
