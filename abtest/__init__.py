"""abtest pure core: hashing, bucketing, targeting, statistics, allocation. No Flask, no DB."""
