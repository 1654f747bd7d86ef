//! The state root: one Merkle root per collection, combined with the digest of
//! the global counters and the genesis hash.

use serde::{Deserialize, Serialize};

use super::State;
use crate::commit::tree::reference_root;
use crate::encoding::digest;
use crate::types::Hash;

/// The roots that make up the state root, for audits and `aivm inspect`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRoots {
    pub accounts: Hash,
    pub providers: Hash,
    pub tasks: Hash,
    pub models: Hash,
    pub globals: Hash,
    pub genesis: Hash,
}

impl CollectionRoots {
    /// `blake3::derive_key("aivm v1 state root")`-keyed hash of the six roots in order.
    pub fn state_root(&self) -> Hash {
        let mut h = blake3::Hasher::new_derive_key("aivm v1 state root");
        for r in [
            &self.accounts,
            &self.providers,
            &self.tasks,
            &self.models,
            &self.globals,
            &self.genesis,
        ] {
            h.update(r);
        }
        *h.finalize().as_bytes()
    }
}

impl State {
    /// Folds every change since the last commit into the trees and the state root.
    pub(crate) fn commit_roots(&mut self) {
        self.accounts.commit();
        self.providers.commit();
        self.tasks.commit();
        self.models.commit();
        self.state_root = self.collection_roots().state_root();
    }

    /// Roots of the committed trees.
    pub fn collection_roots(&self) -> CollectionRoots {
        CollectionRoots {
            accounts: self.accounts.root(),
            providers: self.providers.root(),
            tasks: self.tasks.root(),
            models: self.models.root(),
            globals: digest("aivm v1 globals", &self.globals),
            genesis: self.genesis_hash,
        }
    }

    /// The state root recomputed from scratch (every leaf rehashed, every tree
    /// rebuilt by the simple reference code): the independent check of the
    /// incremental root.
    pub fn reference_state_root(&self) -> Hash {
        CollectionRoots {
            accounts: reference_root(&self.accounts.leaves_from_scratch()),
            providers: reference_root(&self.providers.leaves_from_scratch()),
            tasks: reference_root(&self.tasks.leaves_from_scratch()),
            models: reference_root(&self.models.leaves_from_scratch()),
            globals: digest("aivm v1 globals", &self.globals),
            genesis: self.genesis_hash,
        }
        .state_root()
    }
}
