"""abtest pure core: hashing, bucketing, targeting conditions, statistics, allocation. No Flask, no DB."""
