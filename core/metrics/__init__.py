"""Motion quality metrics: the text-motion evaluator, embedding statistics and physical checks."""
