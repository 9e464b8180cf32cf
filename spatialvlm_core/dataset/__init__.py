"""Datasets: reading QA datasets, Parquet shards, exports, dense per-token labels, sim QA splits."""
