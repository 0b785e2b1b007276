"""``sharer-reconcile``: finish or remove images left pending (see ``reconciler.pending``)."""
