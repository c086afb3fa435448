"""Ways to run trained models for generation: torch modules, or numpy for torch-free start-up."""
