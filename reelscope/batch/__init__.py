"""Batches over whole archives: sources (files, folders, globs, manifests), a process pool on one
machine or Ray on a cluster, resumable through the engine (finished videos and stages are read from
the archive and skipped; failures are recorded and can be retried), one overall progress bar."""
from reelscope.batch.run import BatchItem, BatchSummary, run_batch
from reelscope.batch.sources import expand_sources

__all__ = ["BatchItem", "BatchSummary", "expand_sources", "run_batch"]
