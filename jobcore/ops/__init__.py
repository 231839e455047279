"""What commands do: launch, stop, resume, dispatch the queue, reconcile, clean, doctor."""
