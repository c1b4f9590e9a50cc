"""albert_tf.training."""
