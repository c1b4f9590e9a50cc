"""Tasks: what the one training loop in albert_tf.training runs (a model, a loss, metrics, an input)."""
