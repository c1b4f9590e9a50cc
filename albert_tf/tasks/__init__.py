"""Tasks: what the one training loop in albert_tf.training runs (model, loss, metrics, input)."""
