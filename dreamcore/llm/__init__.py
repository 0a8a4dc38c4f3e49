"""Model access for every phase: routes, the budget, usage, shared limits and retries."""
