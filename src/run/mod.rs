//! The interpreter: environment, autograd tape, optimizers, training, files.
