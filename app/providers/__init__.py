"""Provider adapters: one module per wire format, an explicit registry, a pooled client each."""
