//! Proxies for the peer's objects, and the bookkeeping that releases them with DEL.

use crate::wire::IdPack;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A proxy for an object that lives on the peer (a REMOTE_REF).
///
/// Cloning is free and sends nothing. When the last clone is dropped, the connection
/// sends one DEL carrying the number of times the peer lent the object, before its next
/// request, as a Python proxy does (PROTOCOL.md §6.3). Proxies may be dropped on any
/// thread.
#[derive(Clone)]
pub struct RemoteRef(Arc<RefInner>);

struct RefInner {
    id: IdPack,
    owner: Arc<ReleaseQueue>,
}

impl Drop for RefInner {
    fn drop(&mut self) {
        self.owner.push(self.id.clone());
    }
}

impl RemoteRef {
    /// The id_pack the peer named the object with.
    pub fn id(&self) -> &IdPack {
        &self.0.id
    }

    /// The peer's type name, e.g. `"builtins.dict"`.
    pub fn type_name(&self) -> &str {
        &self.0.id.name
    }

    /// Whether this proxy was made by the connection that owns `queue`.
    pub(crate) fn belongs_to(&self, queue: &Arc<ReleaseQueue>) -> bool {
        Arc::ptr_eq(&self.0.owner, queue)
    }
}

impl fmt::Debug for RemoteRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteRef({})", self.0.id)
    }
}

/// Proxies dropped since the connection last sent a request.
pub(crate) struct ReleaseQueue {
    dropped: Mutex<Vec<IdPack>>,
    // Lets the request path skip the lock when nothing was dropped (the common case).
    any: AtomicBool,
}

impl ReleaseQueue {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ReleaseQueue { dropped: Mutex::new(Vec::new()), any: AtomicBool::new(false) })
    }

    fn push(&self, id: IdPack) {
        // A poisoned lock only means another thread panicked while pushing; the list is intact.
        self.dropped.lock().unwrap_or_else(|e| e.into_inner()).push(id);
        self.any.store(true, Ordering::Release);
    }

    /// Takes the dropped ids, if any.
    pub(crate) fn drain(&self) -> Option<Vec<IdPack>> {
        if !self.any.swap(false, Ordering::Acquire) {
            return None;
        }
        Some(std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|e| e.into_inner())))
    }
}

/// The peer's objects this side holds proxies for: how many times each was lent.
pub(crate) struct HeldRefs {
    held: HashMap<IdPack, Held>,
}

struct Held {
    proxy: Weak<RefInner>,
    times_received: u64,
}

impl HeldRefs {
    pub(crate) fn new() -> Self {
        HeldRefs { held: HashMap::new() }
    }

    /// A REMOTE_REF arrived: reuse the live proxy or make one, and count the loan.
    pub(crate) fn receive(&mut self, id: IdPack, queue: &Arc<ReleaseQueue>) -> RemoteRef {
        match self.held.get_mut(&id) {
            Some(h) => {
                h.times_received += 1;
                if let Some(live) = h.proxy.upgrade() {
                    return RemoteRef(live);
                }
                // The previous proxy died but its DEL is not sent yet: the new proxy
                // inherits the count, and that DEL is skipped (see `released`).
                let proxy = Arc::new(RefInner { id, owner: queue.clone() });
                h.proxy = Arc::downgrade(&proxy);
                RemoteRef(proxy)
            }
            None => {
                let proxy = Arc::new(RefInner { id: id.clone(), owner: queue.clone() });
                self.held.insert(id, Held { proxy: Arc::downgrade(&proxy), times_received: 1 });
                RemoteRef(proxy)
            }
        }
    }

    /// A proxy for `id` was dropped: returns the DEL count to send, or `None` when a
    /// newer proxy for the same object is alive and keeps the loan.
    pub(crate) fn released(&mut self, id: &IdPack) -> Option<u64> {
        let h = self.held.get(id)?;
        if h.proxy.strong_count() > 0 {
            return None;
        }
        self.held.remove(id).map(|h| h.times_received)
    }

    /// How many distinct remote objects are held.
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }
}
