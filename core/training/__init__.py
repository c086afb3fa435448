"""Training: data windows, resumable loops with logs, distributed data parallel."""
