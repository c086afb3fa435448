"""MoMask models: residual VQ-VAE, masked transformer, residual transformer, length estimator."""
